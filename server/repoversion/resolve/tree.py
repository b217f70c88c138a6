"""The scratch apt tree a version is resolved in: what ``apt-get update`` would have left.

For a version and an architecture, ``<home>/cache/apt/<key>/<arch>/`` holds::

    etc/apt/sources.list            one deb line per archive and suite of the version
    etc/apt/{apt.conf.d,preferences.d,sources.list.d}/   empty: no pins, no host settings
    var/lib/apt/lists/<apt's names> the suite's Release and its Packages, decompressed
    var/lib/dpkg/status             empty: an empty system

The Packages files are the version's own blobs, byte for byte, under the file names apt
gives the lists of ``deb http://repoversion.invalid/<archive>/ <suite> <components>``.
The Release beside them carries what apt reads from a Release to choose candidates and
match ``PKG/SUITE``: a ``signed`` archive's Origin, Label, Suite, Version and Codename (as
the Release this server generates), a ``verbatim`` archive's upstream InRelease itself.

``<key>`` is a digest of the version's state and its Release summaries, so versions
serving the same bytes share a tree. A tree is written under a temporary name and
renamed into place, so other processes see all of it or nothing; the least recently used
trees beyond :data:`KEEP_TREES` are removed (a process that loaded one keeps its lists
open, see :mod:`repoversion.resolve.aptcache`).

>>> plan_sources({"archives": {"debian": {"mode": "signed", "suites": {"bookworm": {
...     "release": {"suite": "stable", "codename": "bookworm"},
...     "files": {"main/binary-amd64/Packages.xz": {"sha256": "ab" * 32, "size": 9}}}}}}},
...     "amd64")[0].sources_line()
'deb http://repoversion.invalid/debian/ bookworm main'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repoversion.archive.compression import available, kind_from_path
from repoversion.archive.decoding import start_decoding
from repoversion.errors import NotFound
from repoversion.pids import alive
from repoversion.storage.base import BlobRef, BlobStore

#: the sources' site: never contacted, it only names the list files
SITE = "http://repoversion.invalid/"
#: trees kept on disk per home (a Debian main amd64 tree is about 50 MB)
KEEP_TREES = 4
#: a tree used more recently than this is never removed, whatever the count
GRACE_SECONDS = 600
_PACKAGES = re.compile(r"^(?P<comp>.+)/binary-(?P<arch>[^/]+)/Packages(?:\.[a-z0-9]+)?$")
#: variants in the order they are preferred: the cheapest to decode first
_KINDS = ("", "gz", "xz", "bz2", "zst")
_CHUNK = 1 << 20


def canonical_json(obj: Any) -> bytes:
    """SPEC section 2's canonical JSON, in UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ListFile:
    """One Packages index of a suite, as a blob of the version.

    :ivar component: e.g. ``main``.
    :ivar arch: its ``binary-<arch>`` (the requested one, or ``all``).
    :ivar path: the served path under ``dists/<suite>/`` (e.g. ``main/binary-amd64/Packages.xz``).
    """

    component: str
    arch: str
    path: str
    blob: BlobRef


@dataclass(frozen=True)
class TreeSource:
    """One archive and suite of the version, as apt sees it."""

    archive: str
    suite: str
    components: tuple[str, ...]
    lists: tuple[ListFile, ...]
    #: ``InRelease``/``Release`` blob of a verbatim archive, else None
    upstream_release: tuple[str, BlobRef] | None
    release_fields: tuple[tuple[str, str], ...]

    def sources_line(self) -> str:
        return f"deb {SITE}{self.archive}/ {self.suite} {' '.join(self.components)}"

    def list_name(self, tail: str) -> str:
        """apt's file name in ``lists/`` for ``dists/<suite>/<tail>`` of this source."""
        import apt_pkg

        name: str = apt_pkg.uri_to_filename(f"{SITE}{self.archive}/dists/{self.suite}/{tail}")
        return name

    def release_file(self, archs: list[str]) -> tuple[str, bytes | BlobRef]:
        """The Release file for ``lists/``: its name and bytes (or the upstream blob)."""
        if self.upstream_release is not None:
            name, blob = self.upstream_release
            return self.list_name(name), blob
        lines = [f"{k}: {v}" for k, v in self.release_fields]
        lines.append(f"Architectures: {' '.join(archs)}")
        lines.append(f"Components: {' '.join(self.components)}")
        return self.list_name("Release"), ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class AptTree:
    """A complete tree on disk.

    :ivar origins: list file name → (archive, suite, component), to say where apt found
        each package.
    """

    root: Path
    arch: str
    sources: tuple[TreeSource, ...]
    origins: Mapping[str, tuple[str, str, str]]

    @property
    def lists(self) -> Path:
        return self.root / "var/lib/apt/lists"


def tree_key(index: Mapping[str, Any]) -> str:
    """What a tree depends on: the state and every suite's Release summary."""
    releases = {
        name: {suite: data.get("release") for suite, data in arc.get("suites", {}).items()}
        for name, arc in index.get("archives", {}).items()
    }
    return hashlib.sha256(canonical_json([index.get("state"), releases])).hexdigest()[:32]


def _pick(files: Mapping[str, Any], arch: str) -> dict[tuple[str, str], tuple[str, BlobRef]]:
    """(component, arch) → the variant of its Packages to read."""
    best: dict[tuple[str, str], tuple[int, str, BlobRef]] = {}
    for path, ref in files.items():
        m = _PACKAGES.match(path)
        kind = kind_from_path(path)
        if m is None or m["arch"] not in (arch, "all") or kind not in _KINDS:
            continue
        if not available(kind) or (not kind and not path.endswith("/Packages")):
            continue
        rank = _KINDS.index(kind)
        key = (m["comp"], m["arch"])
        if key not in best or rank < best[key][0]:
            best[key] = (rank, path, BlobRef(ref["sha256"], int(ref["size"])))
    return {k: (path, blob) for k, (_, path, blob) in best.items()}


def _release_fields(release: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    keys = [("Origin", "origin"), ("Label", "label"), ("Suite", "suite")]
    keys += [("Version", "version"), ("Codename", "codename")]
    return tuple((k, str(release[j])) for k, j in keys if release.get(j))


def plan_sources(index: Mapping[str, Any], arch: str) -> list[TreeSource]:
    """The sources of the version ``index`` describes that serve Packages for ``arch``.

    :param index: the version's ``index.json``.
    :param arch: e.g. ``amd64``.
    """
    out: list[TreeSource] = []
    for name, arc in sorted(index.get("archives", {}).items()):
        for suite, data in sorted(arc.get("suites", {}).items()):
            files = data.get("files", {})
            picked = _pick(files, arch)
            if not any(a == arch for _, a in picked):
                continue
            lists = tuple(
                ListFile(comp, a, path, blob) for (comp, a), (path, blob) in sorted(picked.items())
            )
            comps = tuple(sorted({lf.component for lf in lists}, key=lambda c: (c != "main", c)))
            upstream = None
            if arc.get("mode") == "verbatim":
                for rel in ("InRelease", "Release"):
                    if rel in files:
                        ref = files[rel]
                        upstream = (rel, BlobRef(ref["sha256"], int(ref["size"])))
                        break
            fields = _release_fields(data.get("release") or {})
            out.append(TreeSource(name, suite, comps, lists, upstream, fields))
    return out


def open_tree(
    cache_dir: Path, index: Mapping[str, Any], arch: str, store: BlobStore, *, max_size: int
) -> AptTree:
    """The tree for the version ``index`` describes, written first if needed.

    :param cache_dir: ``<home>/cache/apt``.
    :param index: the version's ``index.json``.
    :param arch: the architecture.
    :param store: where the version's blobs are.
    :param max_size: the largest decompressed index accepted (``max_index_size``).
    :raises NotFound: the version serves no Packages for ``arch``.
    """
    sources = tuple(plan_sources(index, arch))
    if not sources:
        raise NotFound(f"Repoversion {index.get('repoversion')} serves no Packages for {arch}.")
    origins = {
        src.list_name(f"{lf.component}/binary-{lf.arch}/Packages"): (
            src.archive,
            src.suite,
            lf.component,
        )
        for src in sources
        for lf in src.lists
    }
    top = cache_dir / tree_key(index)
    root = top / arch
    if not root.is_dir():
        top.mkdir(parents=True, exist_ok=True)
        _build(top, arch, sources, store, max_size)
        prune(cache_dir, keep=top)
    touch(top)
    return AptTree(root, arch, sources, origins)


def _build(
    top: Path, arch: str, sources: tuple[TreeSource, ...], store: BlobStore, max_size: int
) -> None:
    tmp = top / f".{arch}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for sub in ("sources.list.d", "apt.conf.d", "preferences.d"):
            (tmp / "etc/apt" / sub).mkdir(parents=True)
        lists = tmp / "var/lib/apt/lists"
        (lists / "partial").mkdir(parents=True)
        (tmp / "var/lib/dpkg").mkdir(parents=True)
        (tmp / "var/lib/dpkg/status").write_bytes(b"")
        lines = [src.sources_line() for src in sources]
        (tmp / "etc/apt/sources.list").write_text("".join(line + "\n" for line in lines))
        for src in sources:
            archs = sorted({lf.arch for lf in src.lists})
            name, release = src.release_file(archs)
            data = release if isinstance(release, bytes) else store.read_bytes(release.sha256)
            (lists / name).write_bytes(data)
            for lf in src.lists:
                target = lists / src.list_name(f"{lf.component}/binary-{lf.arch}/Packages")
                what = f"{src.archive}/dists/{src.suite}/{lf.path}"
                _write_index(target, store, lf, what, max_size)
        try:
            tmp.rename(top / arch)
        except OSError:  # another process renamed its (identical) tree first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_index(target: Path, store: BlobStore, lf: ListFile, what: str, max_size: int) -> None:
    kind = kind_from_path(lf.path)
    with target.open("wb") as out:
        if not kind:
            with store.open(lf.blob.sha256) as src:
                shutil.copyfileobj(src, out, _CHUNK)
            return
        decoding = start_decoding(
            store.read_bytes(lf.blob.sha256), kind, max_size=max_size, what=what
        )
        try:
            for chunk in decoding:
                out.write(chunk)
        finally:
            decoding.close()


def touch(top: Path) -> None:
    """Mark a tree as used now (what :func:`prune` keeps)."""
    stamp = top / "used"
    try:
        if time.time() - stamp.stat().st_mtime < 60:
            return
    except FileNotFoundError:
        pass
    with contextlib.suppress(OSError):  # a stamp that cannot be written only ages the tree
        stamp.touch()


def _trees(cache_dir: Path) -> Iterator[tuple[float, Path]]:
    for top in cache_dir.iterdir():
        if top.is_dir() and not top.name.startswith("."):
            try:
                yield (top / "used").stat().st_mtime, top
            except FileNotFoundError:
                yield top.stat().st_mtime, top


def prune(cache_dir: Path, keep: Path) -> None:
    """Remove the least recently used trees beyond :data:`KEEP_TREES` (never ``keep``, nor
    one used in the last :data:`GRACE_SECONDS`), and what killed builders left behind.

    A tree is renamed away before it is deleted, so no process sees half of one.
    """
    now = time.time()
    trees = sorted(_trees(cache_dir), reverse=True)
    for used, top in trees[KEEP_TREES:]:
        if top != keep and now - used > GRACE_SECONDS:
            trash = cache_dir / f".trash-{uuid.uuid4().hex[:8]}"
            try:
                top.rename(trash)
            except OSError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
    for _, top in trees:
        for tmp in top.glob(".*.tmp-*"):
            pid = tmp.name.split("tmp-", 1)[1].split("-", 1)[0]
            if pid.isdigit() and not alive(int(pid)):
                shutil.rmtree(tmp, ignore_errors=True)
