"""What an export writes: every file ``/v/<ref>/<archive>/`` serves, named by its blob.

Index files and Release files are asked of :class:`~repoversion.serving.service.Serving`,
exactly as the web layer asks for them, so the tree holds the bytes the server serves
(a ``signed`` Release generated once and kept, under a tag dated when the tag moved).
``by-hash`` names are the ones the served Release lists for each served file. Pool files
are the version's (or a lockfile's), found through the version's packages.

>>> by_hash_names("main/binary-amd64/Packages.xz", {"SHA256": "ab", "MD5Sum": "cd"})
['main/binary-amd64/by-hash/MD5Sum/cd', 'main/binary-amd64/by-hash/SHA256/ab']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from repoversion.archive.release import parse_release
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import RepoversionError
from repoversion.serving.lookup import (
    RELEASE_NAMES,
    ArchiveIndex,
    SuiteIndex,
    VersionIndex,
    signed_text,
)
from repoversion.serving.materialize import Wanted, lockfile_files
from repoversion.serving.service import Serving
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef
from repoversion.upstream.archives import archive_confs
from repoversion.versions.contents import pool_files, release_fields
from repoversion.versions.refs import Resolved

#: a file upstream signed (its bytes are upstream's), or one this server generated
UPSTREAM, GENERATED = "upstream", "generated"


@dataclass(frozen=True, slots=True)
class Item:
    """One file of the tree.

    :ivar path: where it goes, relative to the export's root (``debian/dists/…``).
    :ivar blob: its bytes.
    :ivar origin: :data:`UPSTREAM` or :data:`GENERATED`.
    :ivar same_as: for a ``by-hash`` name, the file whose bytes it repeats.
    """

    path: str
    blob: BlobRef
    origin: str = UPSTREAM
    same_as: str | None = None


@dataclass(frozen=True, slots=True)
class SuitePlan:
    """One suite of one archive: its served files and upstream's own signed Release.

    :ivar upstream: ``InRelease`` (or ``Release`` and ``Release.gpg``) → blob, as the sync
        fetched them; ``None`` when the sync did not keep them.
    """

    archive: str
    suite: str
    mode: str
    items: tuple[Item, ...]
    upstream: Mapping[str, BlobRef] | None

    @property
    def prefix(self) -> str:
        """``<archive>/dists/<suite>/``."""
        return f"{self.archive}/dists/{self.suite}/"


@dataclass
class ExportPlan:
    """Everything an export writes, before a byte is written."""

    ref: str
    resolved: Resolved
    index: dict[str, Any]
    index_blob: BlobRef
    suites: list[SuitePlan]
    pool: list[Item]
    wanted: list[Wanted]
    keyrings: dict[str, bytes]
    server_keys: dict[str, BlobRef]
    lockfile: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.resolved.version.version

    @property
    def items(self) -> list[Item]:
        """Every file of the tree outside ``provenance/``."""
        return [i for s in self.suites for i in s.items] + self.pool


def by_hash_names(path: str, digests: Mapping[str, str]) -> list[str]:
    """The ``by-hash`` names of ``path`` for ``digests`` (algorithm → hex), sorted."""
    directory = path.rpartition("/")[0]
    prefix = f"{directory}/" if directory else ""
    return sorted(f"{prefix}by-hash/{algo}/{hex_}" for algo, hex_ in digests.items() if hex_)


def make_plan(serving: Serving, ref: str, lock: Mapping[str, Any] | None) -> ExportPlan:
    """The files of ``/v/<ref>/`` (pool files: only the lockfile's, when ``lock`` is given).

    :param serving: the serving object of this process.
    :param ref: a version, tag or timestamp.
    :param lock: a parsed lockfile, or ``None``.
    :raises NotFound: ``ref`` names nothing.
    :raises Gone: the version was deleted.
    :raises InvalidInput: the lockfile names a file the version does not hold.
    """
    ctx = serving.ctx
    resolved = serving.resolve(ref)
    vindex = serving.index(resolved.version)
    index = _read_json(ctx, vindex.index)
    warnings: list[str] = []
    suites = [
        _suite_plan(serving, resolved, arc, suite, warnings)
        for arc in vindex.archives.values()
        for suite in arc.suites.values()
    ]
    pool, wanted = _pool(ctx, vindex, lock, warnings)
    keyrings = {a.name: a.keyring for a in archive_confs(ctx.sessions) if a.name in vindex.archives}
    for name in sorted(set(vindex.archives) - set(keyrings)):
        warnings.append(
            f"Archive {name} is no longer configured: its keyring is not in the export, so "
            "upstream's signatures of its suites cannot be checked with it."
        )
    keys = {n: serving.public_key(n).blob for n in ("repoversion.asc", "repoversion.gpg")}
    return ExportPlan(
        ref,
        resolved,
        index,
        vindex.index,
        suites,
        pool,
        wanted,
        keyrings,
        keys,
        lock is not None,
        warnings,
    )


def _read_json(ctx: Context, blob: BlobRef) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ctx.store.read_bytes(blob.sha256))
    return data


def _suite_plan(
    serving: Serving, resolved: Resolved, arc: ArchiveIndex, suite: SuiteIndex, warnings: list[str]
) -> SuitePlan:
    names = set(suite.files) | (set() if arc.mode == "verbatim" else set(RELEASE_NAMES))
    items: list[Item] = []
    for name in sorted(names):
        target = serving.target(resolved, arc.name, f"dists/{suite.name}/{name}")
        generated = name in RELEASE_NAMES and arc.mode != "verbatim"
        path = f"{arc.name}/dists/{suite.name}/{name}"
        items.append(Item(path, target.blob, GENERATED if generated else UPSTREAM))
    items += _by_hash_items(serving, resolved, arc, suite, items)
    upstream = _upstream_release(serving, resolved, arc, suite)
    if upstream is None:
        warnings.append(
            f"{arc.name}/{suite.name}: upstream's signed Release of this version was not kept "
            "(synced before repoversion kept it, or collected since), so the provenance of "
            "its files cannot be checked."
        )
    return SuitePlan(arc.name, suite.name, arc.mode, tuple(items), upstream)


def _by_hash_items(
    serving: Serving, resolved: Resolved, arc: ArchiveIndex, suite: SuiteIndex, items: list[Item]
) -> list[Item]:
    """The ``by-hash`` names of the served index files, when the served Release asks
    clients to use them (``Acquire-By-Hash: yes``)."""
    served = {i.path: i for i in items}
    prefix = f"{arc.name}/dists/{suite.name}/"
    release = _served_release(serving, served, prefix)
    if release is None or not release.acquire_by_hash:
        return []
    out: dict[str, Item] = {}
    for item in items:
        sub = item.path[len(prefix) :]
        entry = release.files.get(sub)
        if sub in RELEASE_NAMES or entry is None:
            continue
        digests = {"SHA256": entry.sha256, "SHA512": entry.sha512 or "", "MD5Sum": entry.md5 or ""}
        for name in by_hash_names(sub, digests):
            target = serving.target(resolved, arc.name, f"dists/{suite.name}/{name}")
            if target.sha256 == item.blob.sha256:
                out[prefix + name] = Item(prefix + name, target.blob, item.origin, item.path)
    return [out[p] for p in sorted(out)]


def _served_release(serving: Serving, served: Mapping[str, Item], prefix: str) -> Any:
    store = serving.store
    release, inrelease = served.get(prefix + "Release"), served.get(prefix + "InRelease")
    if release is not None:
        text = store.read_bytes(release.blob.sha256)
    elif inrelease is not None:
        text = signed_text(store.read_bytes(inrelease.blob.sha256))
    else:
        return None
    try:
        return parse_release(text, f"{prefix}Release")
    except RepoversionError:
        return None


def _upstream_release(
    serving: Serving, resolved: Resolved, arc: ArchiveIndex, suite: SuiteIndex
) -> dict[str, BlobRef] | None:
    """Upstream's signed Release as the sync kept it: named in the suite's Release record,
    or (``verbatim``) among the served files; ``None`` when it is not stored."""
    with transaction(serving.ctx.sessions) as s:
        record = release_fields(s, resolved.version.id, arc.name, suite.name) or {}
    kept = record.get("upstream") or {}
    found = {n: BlobRef(r["sha256"], r["size"]) for n, r in kept.items()}
    if not found and arc.mode == "verbatim":
        found = {n: suite.files[n] for n in RELEASE_NAMES if n in suite.files}
    if not found or not all(serving.store.exists(b.sha256) for b in found.values()):
        return None
    return found


def _pool(
    ctx: Context, vindex: VersionIndex, lock: Mapping[str, Any] | None, warnings: list[str]
) -> tuple[list[Item], list[Wanted]]:
    """The pool files to write, and the blobs to have (each once) for them."""
    with transaction(ctx.sessions) as s:
        if lock is None:
            rows = pool_files(s, vindex.vid)
        else:
            lockfile_files(s, vindex, lock)  # every entry checked against the version
            rows = [
                (p["archive"], p["filename"], p["sha256"], int(p["size"])) for p in lock["packages"]
            ]
    items: dict[str, Item] = {}
    wanted: dict[str, Wanted] = {}
    skipped = 0
    for archive, path, sha, size in rows:
        if not path.startswith("pool/"):
            skipped += 1  # /v/<ref>/<archive>/ serves only pool/ paths
            continue
        items.setdefault(f"{archive}/{path}", Item(f"{archive}/{path}", BlobRef(sha, size)))
        url = vindex.archives[archive].url
        target = Target(sha, size, path.rsplit("/", 1)[-1], archive, (path,))
        wanted.setdefault(sha, Wanted(target, url))
    if skipped:
        warnings.append(f"{skipped} package files outside pool/ are not served, so not exported.")
    return [items[p] for p in sorted(items)], list(wanted.values())
