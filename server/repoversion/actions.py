"""What a user can do, as functions of the :class:`Context`.

Each function opens its own transaction and returns plain values (the JSON objects of
SPEC section 4 where there is one). The command line calls these, and so will the HTTP
API, so both say the same thing; neither opens a transaction itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.upstream import archives
from repoversion.versions import refs, tags
from repoversion.versions.changes import CommitResult

Progress = Callable[[str, int, int], None]

# -- versions ---------------------------------------------------------------------------


def list_versions(ctx: Context) -> list[dict[str, Any]]:
    """Kept versions, newest first (``versions --json``)."""
    with transaction(ctx.sessions) as s:
        return refs.list_versions(s)


def show_version(ctx: Context, ref: str) -> dict[str, Any]:
    """The ``index.json`` of the version ``ref`` names."""
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, ref)
    return refs.read_index(ctx.store, version)


def diff(ctx: Context, ref_a: str, ref_b: str) -> dict[str, Any]:
    """The ``diff --json`` object from ``ref_a`` to ``ref_b``."""
    from repoversion.versions.diff import diff_versions

    with transaction(ctx.sessions) as s:
        return diff_versions(s, refs.resolve_ref(s, ref_a), refs.resolve_ref(s, ref_b))


def sync(
    ctx: Context,
    bump: str | None = None,
    progress: Progress | None = None,
    *,
    allow_releaseinfo_change: tuple[str, ...] = (),
) -> CommitResult:
    """Sync every archive; commit a new version if anything changed.

    :param allow_releaseinfo_change: ``ARCHIVE/SUITE`` values whose changed Release
        Codename (or Suite and Codename naming another suite) this sync accepts.
    """
    from repoversion.mirror.sync import run_sync

    return run_sync(
        ctx, bump=bump, progress=progress, allow_releaseinfo_change=allow_releaseinfo_change
    )


# -- tags -------------------------------------------------------------------------------


def set_tag(ctx: Context, name: str, ref: str) -> tags.TagMove:
    """Point tag ``name`` at the version ``ref`` names."""
    with transaction(ctx.sessions) as s:
        return tags.set_tag(s, name, ref, ctx.settings.clock())


def delete_tag(ctx: Context, name: str) -> str:
    """Delete tag ``name``; returns the version it named."""
    with transaction(ctx.sessions) as s:
        return tags.delete_tag(s, name, ctx.settings.clock())


def list_tags(ctx: Context) -> list[dict[str, Any]]:
    """Every tag, ``latest`` first (``tags --json``)."""
    with transaction(ctx.sessions) as s:
        return [t.to_json() for t in tags.list_tags(s)]


def tag_history(ctx: Context, name: str) -> list[dict[str, Any]]:
    """Every move of tag ``name``, oldest first."""
    with transaction(ctx.sessions) as s:
        return tags.tag_history(s, name)


# -- archives ---------------------------------------------------------------------------


def add_archive(ctx: Context, spec: archives.ArchiveSpec) -> dict[str, Any]:
    """Validate and record an upstream archive."""
    with transaction(ctx.sessions) as s:
        return archives.archive_json(archives.add_archive(s, spec, ctx.settings.clock()))


def list_archives(ctx: Context) -> list[dict[str, Any]]:
    """Every configured archive (``archive list --json``)."""
    with transaction(ctx.sessions) as s:
        return [archives.archive_json(a) for a in archives.list_archives(s)]


def show_archive(ctx: Context, name: str) -> dict[str, Any]:
    """One archive, with its keyring's fingerprints."""
    with transaction(ctx.sessions) as s:
        return archives.archive_json(archives.get_archive(s, name), detail=True)


def remove_archive(ctx: Context, name: str) -> None:
    """Forget an archive; the next sync drops it."""
    with transaction(ctx.sessions) as s:
        archives.remove_archive(s, name)


@dataclass(frozen=True)
class SystemAdd:
    """What ``init --from-system`` did with one of this host's archives.

    :ivar added: the archive as added, or None when it was not.
    :ivar message: why it was not (exists already, or cannot be used).
    """

    name: str
    added: dict[str, Any] | None
    message: str = ""


def add_from_system(ctx: Context) -> Iterator[SystemAdd]:
    """Add every archive this host's apt sources use, policy ``on_demand``, one at a time.

    A source whose URL carries credentials is skipped (``index.json`` would publish them),
    and so is one without ``Signed-By`` whose distribution keyring is unknown: see
    :mod:`repoversion.aptsources.signedby`.

    :raises InvalidInput: the host's sources list no http(s) archive.
    """
    from repoversion.aptsources.host import read_system_sources
    from repoversion.aptsources.signedby import spec_of

    found = read_system_sources()
    if not found:
        raise InvalidInput("This host's apt sources list no http(s) archive to mirror.")
    for host_archive in found:
        try:
            # First, so no later message repeats a URL holding a password.
            archives.validate_url(host_archive.url, ctx.settings.auth_conf)
            added = add_archive(ctx, spec_of(host_archive))
        except Conflict:
            yield SystemAdd(host_archive.name, None, "exists already; kept as it is")
        except InvalidInput as exc:
            reason = exc.message[:1].lower() + exc.message[1:]
            yield SystemAdd(host_archive.name, None, f"skipped: {reason}")
        else:
            yield SystemAdd(host_archive.name, added)


def client_lines(ctx: Context, ref: str = "latest") -> Any:
    """The apt lines and key command for the version ``ref`` names, or None before the
    first version (a :class:`~repoversion.aptsources.client.ClientSetup`)."""
    from repoversion.aptsources.client import client_setup

    with transaction(ctx.sessions) as s:
        try:
            version = refs.resolve_ref(s, ref)
        except NotFound:
            return None
        order = {a.name: list(a.components) for a in archives.list_archives(s)}
    return client_setup(refs.read_index(ctx.store, version), ctx.settings.public_url, order)


# -- tokens -----------------------------------------------------------------------------


def create_token(ctx: Context, name: str, scope: str) -> dict[str, str]:
    """A new token, ``{"name", "token", "scope"}``: the secret is shown this once."""
    from repoversion import tokens

    with transaction(ctx.sessions) as s:
        new = tokens.create_token(s, name, scope, ctx.settings.clock())
    return {"name": new.name, "token": new.token, "scope": new.scope}


def list_tokens(ctx: Context) -> list[dict[str, Any]]:
    """Every token, never its secret."""
    from repoversion import tokens
    from repoversion.timefmt import iso

    with transaction(ctx.sessions) as s:
        return [
            {
                "name": t.name,
                "scope": t.scope,
                "created": iso(t.created),
                "last_used": iso(t.last_used) if t.last_used else None,
            }
            for t in tokens.list_tokens(s)
        ]


def revoke_token(ctx: Context, name: str) -> None:
    """Revoke token ``name``."""
    from repoversion import tokens

    with transaction(ctx.sessions) as s:
        tokens.revoke_token(s, name)


def sweep_leftovers(ctx: Context) -> int:
    """Remove what killed writers left in the blob store; returns how many."""
    return ctx.store.sweep_leftovers()


def upgrade_schema(ctx: Context) -> None:
    """Apply pending migrations (alembic)."""
    from repoversion.db.session import upgrade

    upgrade(ctx.settings.database_url)
