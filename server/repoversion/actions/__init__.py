"""What a user can do, as functions of the :class:`~repoversion.context.Context`, one
module per noun.

Each function opens its own transaction and returns plain values (the JSON objects of
SPEC section 4 where there is one). The command line and the HTTP API both call these,
so both say the same thing; neither opens a transaction itself.
"""

from repoversion.actions.admin import (
    authorize,
    create_token,
    list_tokens,
    revoke_token,
    upgrade_schema,
)
from repoversion.actions.archives import (
    SystemAdd,
    add_archive,
    add_from_system,
    client_lines,
    edit_archive,
    list_archives,
    remove_archive,
    show_archive,
)
from repoversion.actions.lockfiles import (
    LockUpdate,
    lock_packages,
    lockfile_apt_args,
    lockfile_sources,
    parse_lockfile,
    update_lockfile,
    verify_lockfile,
)
from repoversion.actions.syncs import (
    enqueue_sync,
    get_job,
    list_syncs,
    sweep_leftovers,
    sync,
)
from repoversion.actions.tags import (
    delete_tag,
    list_tags,
    set_tag,
    tag_history,
)
from repoversion.actions.versions import (
    PAGE_MAX,
    diff,
    history,
    list_versions,
    list_versions_page,
    packages,
    show_version,
)

__all__ = [
    "PAGE_MAX",
    "LockUpdate",
    "SystemAdd",
    "add_archive",
    "add_from_system",
    "authorize",
    "client_lines",
    "create_token",
    "delete_tag",
    "diff",
    "edit_archive",
    "enqueue_sync",
    "get_job",
    "history",
    "list_archives",
    "list_syncs",
    "list_tags",
    "list_tokens",
    "list_versions",
    "list_versions_page",
    "lock_packages",
    "lockfile_apt_args",
    "lockfile_sources",
    "packages",
    "parse_lockfile",
    "remove_archive",
    "revoke_token",
    "set_tag",
    "show_archive",
    "show_version",
    "sweep_leftovers",
    "sync",
    "tag_history",
    "update_lockfile",
    "upgrade_schema",
    "verify_lockfile",
]
