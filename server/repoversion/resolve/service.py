"""Resolving a request against a version into a lockfile, with the caches that make it fast.

A version never changes, so neither does a lockfile resolved from it: results are kept
per (version, state, request, architecture, Recommends, public URL), in this process
(:data:`RESULTS`) and on disk beside the version's apt tree
(``<home>/cache/apt/<key>/results/``), where every process of the home finds them.
A miss lays out the tree (:mod:`~repoversion.resolve.tree`), takes the process's apt
cache of it (:mod:`~repoversion.resolve.aptcache`) and runs apt-get's install steps
(:mod:`~repoversion.resolve.solve`) in a copy of the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repoversion.errors import RepoversionError
from repoversion.resolve import lockfile
from repoversion.resolve.aptcache import APT_LOCK, CACHES, AptCache, in_copy, reported
from repoversion.resolve.explain import explain
from repoversion.resolve.request import Request
from repoversion.resolve.solve import Unresolvable, entries, install, installed, select
from repoversion.resolve.tree import AptTree, canonical_json, open_tree, tree_key
from repoversion.storage.base import BlobStore

#: lockfiles kept in this process's memory
MAX_RESULTS = 128
reported(Unresolvable)


class _Results:
    """A small thread-safe LRU of lockfile bytes."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._items[key] = data
            while len(self._items) > self.size:
                self._items.popitem(last=False)


#: the process's lockfiles (process-wide, as the apt caches are)
RESULTS = _Results(MAX_RESULTS)
#: one tree written at a time per process (another process may write the same one: the
#: rename decides, see tree.py)
_TREES = threading.Lock()


@dataclass(frozen=True)
class Pinned:
    """A version as the resolver needs it.

    :ivar index: reads the version's ``index.json`` (only on a cache miss).
    """

    repoversion: str
    state: str
    index: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Resolver:
    """Resolves requests for one home.

    :ivar cache_dir: ``<home>/cache``.
    :ivar public_url: the server's public base URL (lockfile ``url``s).
    :ivar max_index_size: the largest decompressed index accepted.
    """

    cache_dir: Path
    store: BlobStore
    public_url: str
    max_index_size: int

    def lock(self, version: Pinned, request: Request) -> bytes:
        """The lockfile's bytes for ``request`` against ``version``.

        :raises Unresolvable: apt cannot install the request (one sentence saying why).
        :raises NotFound: the version serves no Packages for the architecture.
        """
        key = self._key(version, request)
        found = RESULTS.get(key)
        if found is not None:
            return found
        index = version.index()
        results = self.cache_dir / "apt" / tree_key(index) / "results"
        path = results / f"{key}.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = lockfile.canonical(self._resolve(version, index, request))
            # only a cache: a full or read-only disk costs the next process a resolution
            with contextlib.suppress(OSError):
                _write_atomically(path, data)
        RESULTS.put(key, data)
        return data

    def _key(self, version: Pinned, request: Request) -> str:
        import apt_pkg

        # another apt may resolve differently: its results are not this one's
        parts = [lockfile.FORMAT, getattr(apt_pkg, "VERSION", ""), str(self.cache_dir)]
        parts += [self.public_url]
        parts += [version.repoversion, version.state, request.architecture]
        parts += [request.to_json(), request.recommends]
        return hashlib.sha256(canonical_json(parts)).hexdigest()

    def _tree(self, index: dict[str, Any], arch: str) -> AptTree:
        with _TREES:
            return open_tree(
                self.cache_dir / "apt", index, arch, self.store, max_size=self.max_index_size
            )

    def _resolve(self, version: Pinned, index: dict[str, Any], request: Request) -> dict[str, Any]:
        tree = self._tree(index, request.architecture)
        where = f"repoversion {version.repoversion} ({request.architecture})"
        with APT_LOCK:
            try:
                apt = CACHES.get(tree, request.recommends)
            except RepoversionError:
                # its files went away under us (removed as unused): lay it out again
                shutil.rmtree(tree.root, ignore_errors=True)
                tree = self._tree(index, request.architecture)
                apt = CACHES.get(tree, request.recommends)
            packages = in_copy(lambda: _resolve_here(apt, request, where))
        sources = [
            {"archive": s.archive, "suite": s.suite, "components": s.components}
            for s in tree.sources
        ]
        return lockfile.build(
            {"repoversion": version.repoversion, "state": version.state},
            {
                "request": request.to_json(),
                "architecture": request.architecture,
                "recommends": request.recommends,
            },
            sources,
            packages,
            self.public_url,
        )


def _resolve_here(apt: AptCache, request: Request, where: str) -> list[dict[str, Any]]:
    """apt-get install's steps on ``apt``'s DepCache; only ever run in a copy (in_copy)."""
    dc = apt.depcache
    selected = select(apt.cache, dc, request.items, where)
    if not install(dc, selected):
        raise Unresolvable(explain(dc, selected))
    chosen = installed(apt.cache, dc, selected, apt.sweep)
    return entries(apt.cache, apt.tree, chosen, request.recommends)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
