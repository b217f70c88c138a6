"""Upstream archives: configuration, this host's sources, the lines a client pastes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.upstream import archives
from repoversion.versions import refs

Progress = Callable[[str, int, int], None]


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


def edit_archive(ctx: Context, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Replace the fields ``changes`` names (url, suites, components, architectures,
    keyring as bytes or a path, policy, required, ostree_export), checked as ``add_archive``
    checks them.

    :raises InvalidInput: an unknown field or a bad value (nothing changes).
    :raises NotFound: no archive with that name.
    """
    with transaction(ctx.sessions) as s:
        return archives.archive_json(archives.edit_archive(s, name, changes))


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
