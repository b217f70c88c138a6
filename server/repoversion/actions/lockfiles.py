"""Lockfiles: resolve with apt's own solver, update, verify, turn into apt input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.upstream import archives
from repoversion.versions import refs

Progress = Callable[[str, int, int], None]


def lock_packages(
    ctx: Context, ref: str, architecture: str, packages: list[str], *, recommends: bool = False
) -> bytes:
    """The lockfile (SPEC section 6) of ``packages`` as apt resolves them against the
    version ``ref`` names, as bytes: the same for the same request and version.

    :raises InvalidInput: a malformed request (checked before anything else).
    :raises NotFound: ``ref`` names nothing, or the version has no Packages for
        ``architecture``.
    :raises Unresolvable: apt cannot install the request (the sentence says why).
    """
    from repoversion.resolve.request import Request

    request = Request.of(packages, architecture, recommends)
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, ref)
    return _resolver(ctx).lock(_pinned(ctx, version), request)


def _resolver(ctx: Context) -> Any:
    from repoversion.resolve.service import Resolver

    s = ctx.settings
    return Resolver(s.home / "cache", ctx.store, s.public_url, s.max_index_size)


def _pinned(ctx: Context, version: Any) -> Any:
    from repoversion.resolve.service import Pinned

    return Pinned(version.version, version.state, lambda: refs.read_index(ctx.store, version))


@dataclass(frozen=True)
class LockUpdate:
    """What ``lockfile update`` found.

    :ivar old: the version the lockfile named; ``new``: the one it was resolved against.
    :ivar data: the new lockfile's bytes.
    :ivar changes: packages added, removed, upgraded and downgraded (keys are (name,
        architecture)), from :func:`repoversion.versions.changes.classify`.
    """

    old: str
    new: str
    data: bytes
    changes: Any

    @property
    def moved(self) -> bool:
        c = self.changes
        return bool(c.added or c.removed or c.upgraded or c.downgraded or c.changed)


def update_lockfile(ctx: Context, lock: Any, ref: str = "latest") -> LockUpdate:
    """Resolve a lockfile's request again against the version ``ref`` names.

    :param lock: the parsed lockfile.
    :raises InvalidInput: it is not a lockfile.
    """
    import json

    from repoversion.resolve import lockfile

    old = lockfile.check(lock)
    data = lock_packages(
        ctx, ref, old["architecture"], old["request"], recommends=old["recommends"]
    )
    new = json.loads(data)
    return LockUpdate(old["repoversion"], new["repoversion"], data, lockfile.changes(old, new))


def verify_lockfile(ctx: Context, lock: Any) -> list[str]:
    """What this server no longer serves as the lockfile says: one sentence per entry
    whose file its version does not hold with that sha256 and size ([] when all are).

    :param lock: the parsed lockfile.
    :raises InvalidInput: it is not a lockfile.
    :raises NotFound: its version is not on this server; :raises Gone: it was deleted.
    """
    from repoversion.resolve import lockfile
    from repoversion.versions.contents import pool_file

    checked = lockfile.check(lock)
    bad: list[str] = []
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, checked["repoversion"])
        if version.state != checked["state"]:
            bad.append(
                f"Repoversion {version.version} here has state {version.state}, not the "
                f"lockfile's {checked['state']}."
            )
        for p in checked["packages"]:
            found = pool_file(s, version.id, p["archive"], p["filename"])
            what = f"{p['name']} {p['version']} ({p['archive']}/{p['filename']})"
            if found is None:
                bad.append(f"{what} is not in repoversion {version.version}.")
            elif (found.sha256, found.size) != (p["sha256"], p["size"]):
                bad.append(
                    f"{what} has sha256 {found.sha256} ({found.size} bytes) here, not "
                    f"{p['sha256']} ({p['size']} bytes)."
                )
    return bad


def lockfile_sources(ctx: Context, lock: Any) -> Any:
    """The apt lines and key command for the sources a lockfile was resolved against (a
    :class:`~repoversion.aptsources.client.ClientSetup`).

    :raises InvalidInput: it is not a lockfile.
    :raises NotFound: its version is not on this server.
    """
    from repoversion.aptsources.client import client_setup
    from repoversion.resolve import lockfile

    checked = lockfile.check(lock)
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, checked["repoversion"])
        order = {a.name: list(a.components) for a in archives.list_archives(s)}
    index = refs.read_index(ctx.store, version)
    wanted = {(src["archive"], src["suite"]) for src in checked["sources"]}
    index["archives"] = {
        name: {**arc, "suites": {k: v for k, v in arc["suites"].items() if (name, k) in wanted}}
        for name, arc in index.get("archives", {}).items()
    }
    return client_setup(index, ctx.settings.public_url, order)


def parse_lockfile(data: bytes, where: str) -> dict[str, Any]:
    """A lockfile read from ``data``, checked.

    :param where: names it in messages (its path).
    :raises InvalidInput: not JSON, or not a lockfile of format 1 (the field is named).
    """
    from repoversion.resolve import lockfile

    return lockfile.parse(data, where)


def lockfile_apt_args(lock: Any) -> list[str]:
    """``name=version`` for each of a lockfile's packages, for ``apt-get install``.

    :raises InvalidInput: it is not a lockfile.
    """
    from repoversion.resolve import lockfile

    return lockfile.apt_args(lockfile.check(lock))
