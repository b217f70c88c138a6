"""Lockfiles: resolve with apt's own solver, update, verify, turn into apt input, and store
one as an apt source of exactly its packages (``/l/<id>/``, :mod:`repoversion.serving.lockrepo`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput, NotFound
from repoversion.storage.base import BlobRef
from repoversion.upstream import archives
from repoversion.versions import refs

Progress = Callable[[str, int, int], None]


def lock_packages(
    ctx: Context, ref: str, architecture: str, packages: list[str], *, recommends: bool = False
) -> bytes:
    """The lockfile (SPEC section 6) of ``packages`` as apt resolves them against the
    version ``ref`` names, as bytes: the same for the same request and version.

    :raises InvalidInput: a malformed request (checked before anything else), or the
        version has no Packages for ``architecture``.
    :raises NotFound: ``ref`` names nothing.
    :raises Unresolvable: apt cannot install the request (the sentence says why).
    """
    from repoversion.resolve.request import Request

    request = Request.of(packages, architecture, recommends)
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, ref)
    try:
        data: bytes = _resolver(ctx).lock(_pinned(ctx, version), request)
    except NotFound as exc:
        # the version exists: what is missing is in the request (its architecture)
        raise InvalidInput(exc.message) from None
    return data


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

    checked = lockfile.check(lock)
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, checked["repoversion"])
        return _unserved(s, version, checked, exact=False)


def _unserved(s: Any, version: Any, lock: Any, *, exact: bool) -> list[str]:
    """One sentence per way ``version`` does not serve the checked ``lock`` as it says.

    :param exact: also require each entry's own package (name, version, architecture,
        archive, suite, component and file), not only a pool file at its path.
    """
    from repoversion.versions.contents import pool_file

    bad: list[str] = []
    if version.state != lock["state"]:
        bad.append(
            f"Repoversion {version.version} here has state {version.state}, not the "
            f"lockfile's {lock['state']}."
        )
    for p in lock["packages"]:
        if exact:
            found = _package_file(s, version.id, p)
        else:
            found = pool_file(s, version.id, p["archive"], p["filename"])
        what = f"{p['name']} {p['version']} ({p['archive']}/{p['filename']})"
        if found is None:
            where = f" as {p['suite']}/{p['component']} {p['architecture']}" if exact else ""
            bad.append(f"{what} is not in repoversion {version.version}{where}.")
        elif (found.sha256, found.size) != (p["sha256"], p["size"]):
            bad.append(
                f"{what} has sha256 {found.sha256} ({found.size} bytes) here, not "
                f"{p['sha256']} ({p['size']} bytes)."
            )
    return bad


def _package_file(s: Any, vid: int, p: Mapping[str, Any]) -> BlobRef | None:
    """The file of the version's package an entry names, the one with its sha256 first."""
    from repoversion.versions.contents import packages_of

    rows = [
        r
        for _, r in packages_of(
            s, vid, name=p["name"], arch=p["architecture"], archive=p["archive"], suite=p["suite"]
        )
        if (r["version"], r["component"], r["filename"])
        == (p["version"], p["component"], p["filename"])
    ]
    rows.sort(key=lambda r: r["sha256"] != p["sha256"])
    return BlobRef(rows[0]["sha256"], rows[0]["size"]) if rows else None


def store_lockfile(ctx: Context, lock: Any) -> dict[str, Any]:
    """Store a lockfile, so that ``/l/<id>/`` serves an apt repository holding exactly its
    packages: ``{"id", "sources", "key_command"}`` (the ``deb`` lines of that repository,
    and the command that fetches the server's key). Storing it again changes nothing.

    :param lock: the parsed lockfile.
    :raises InvalidInput: it is not a lockfile, names no packages or a version this server
        does not have, or an entry its version does not hold as it says (its sha256…).
    :raises Gone: its version was deleted.
    """
    from repoversion.aptsources.client import KEYRING
    from repoversion.resolve import lockfile
    from repoversion.serving import lockrepo

    checked = lockfile.check(lock)
    if not checked["packages"]:
        raise InvalidInput("The lockfile names no packages: there is nothing to serve.")
    with transaction(ctx.sessions) as s:
        version = _version_of(s, checked["repoversion"])
        bad = _unserved(s, version, checked, exact=True)
    if bad:
        more = f" ({len(bad) - 1} more entries do not match either)" if len(bad) > 1 else ""
        raise InvalidInput(bad[0][:-1] + more + ".")
    lock_id = lockrepo.store(ctx, lockrepo.derived_of(ctx), checked, version)
    base = ctx.settings.public_url.rstrip("/")
    return {
        "id": lock_id,
        "sources": [
            f"deb [signed-by={KEYRING}] {base}/l/{lock_id}/{archive} {suite} {' '.join(comps)}"
            for (archive, suite), comps in lockrepo.layout(checked).items()
        ],
        "key_command": f"curl -fsSL {base}/keys/repoversion.gpg -o {KEYRING}",
    }


def _version_of(s: Any, ref: str) -> Any:
    """The version a lockfile names, which must be a version number this server has."""
    try:
        version = refs.resolve_ref(s, ref)
    except NotFound:
        raise InvalidInput(
            f"The lockfile's repoversion {ref[:100]!r} is not on this server."
        ) from None
    if version.version != ref:
        raise InvalidInput(f"The lockfile's repoversion must be X.Y.Z, not {ref[:100]!r}.")
    return version


def get_lockfile(ctx: Context, lock_id: str) -> bytes:
    """The bytes of the lockfile stored as ``lock_id`` (what :func:`store_lockfile` stored).

    :raises NotFound: none is.
    """
    from repoversion.serving import lockrepo

    ref = lockrepo.stored(lockrepo.derived_of(ctx), lock_id)
    return ctx.store.read_bytes(ref.sha256)


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
