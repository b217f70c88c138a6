"""Generated blobs (a signed Release, ``packages.json``), made once per key and reused.

A version never changes, so what is generated from it never needs regenerating: the
bytes go to the blob store and a small pointer file
``<home>/cache/derived/<sha256(key)>.json`` remembers their digests. Worker processes of
one machine share the pointers, and generate under a file lock so only one of them does
the work (a signed Release must be the same bytes from every worker: strong ETags).
A pointer whose blobs were collected by gc is simply regenerated.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from repoversion.serving.cache import LRU
from repoversion.serving.locks import file_lock
from repoversion.serving.model import BlobRef
from repoversion.storage.base import BlobStore

Blobs = dict[str, BlobRef]


class Derived:
    """Generated blobs by key.

    :param store: where the bytes go.
    :param directory: where pointer files and their locks live.
    :param size: how many keys each process remembers without reading a pointer.
    """

    def __init__(self, store: BlobStore, directory: Path, size: int = 512) -> None:
        self.store = store
        self.directory = directory
        self._memo: LRU[str, Blobs] = LRU(size)

    def get(self, key: str, make: Callable[[], Mapping[str, bytes]]) -> Blobs:
        """The blobs generated for ``key``, calling ``make`` only if there are none yet.

        :param key: names what is generated, e.g. ``release/7/debian/bookworm/<date>``.
        :param make: returns the named files' bytes.
        """
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        name = hashlib.sha256(key.encode()).hexdigest()
        pointer = self.directory / f"{name}.json"
        blobs = self._read(pointer, key)
        if blobs is None:
            with file_lock(self.directory / "locks" / f"{name}.lock"):
                blobs = self._read(pointer, key)
                if blobs is None:
                    blobs = self._make(pointer, key, make)
        self._memo.put(key, blobs)
        return blobs

    def _read(self, pointer: Path, key: str) -> Blobs | None:
        try:
            data = json.loads(pointer.read_bytes())
        except (OSError, ValueError):
            return None
        if data.get("key") != key:
            return None
        blobs = {n: BlobRef(sha, size) for n, (sha, size) in data["blobs"].items()}
        if not all(self.store.exists(b.sha256) for b in blobs.values()):
            return None
        return blobs

    def _make(self, pointer: Path, key: str, make: Callable[[], Mapping[str, bytes]]) -> Blobs:
        blobs: Blobs = {}
        for n, data in make().items():
            info = self.store.put_bytes(data)
            blobs[n] = BlobRef(info.sha256, info.size)
        text = json.dumps({"key": key, "blobs": {n: [b.sha256, b.size] for n, b in blobs.items()}})
        pointer.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=pointer.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, pointer)
        return blobs
