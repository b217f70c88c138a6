"""Generated blobs (a signed Release, ``packages.json``), made once per key and reused.

A version never changes, so what is generated from it never needs regenerating: the
bytes go to the blob store and a ``derived`` row in the shared database remembers their
digests. Every node and worker serves the bytes of the first row written (a signed
Release must be the same bytes everywhere: strong ETags, immutable URLs); workers of one
machine generate under a file lock so only one of them does the work, and a node that
loses the race to another node's insert serves the winner's blobs. A row whose blobs
were collected by gc is replaced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from repoversion.db.models import DerivedBlobs
from repoversion.db.session import transaction
from repoversion.serving.cache import LRU
from repoversion.serving.locks import file_lock
from repoversion.storage.base import BlobRef, BlobStore

Blobs = dict[str, BlobRef]


class Derived:
    """Generated blobs by key.

    :param store: where the bytes go.
    :param directory: where the per-machine generation locks live.
    :param sessions: returns the session factory (the shared database).
    :param now: the clock that dates new rows.
    :param size: how many keys each process remembers without asking the database.
    :param ttl: seconds a remembered key is trusted: a row that ``fsck --repair`` dropped
        (its blob was lost) is generated again within that time on every node.
    """

    def __init__(
        self,
        store: BlobStore,
        directory: Path,
        sessions: Callable[[], sessionmaker[Session]],
        now: Callable[[], datetime],
        size: int = 512,
        ttl: float = 60.0,
    ) -> None:
        self.store = store
        self.directory = directory
        self.sessions = sessions
        self.now = now
        self._memo: LRU[str, Blobs] = LRU(size, ttl=ttl)

    def get(self, key: str, make: Callable[[], Mapping[str, bytes]]) -> Blobs:
        """The blobs generated for ``key``, calling ``make`` only if there are none yet.

        :param key: names what is generated, e.g. ``release/7/debian/bookworm/<date>``.
        :param make: returns the named files' bytes.
        """
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        name = hashlib.sha256(key.encode()).hexdigest()
        blobs = self._read(name)
        if blobs is None:
            with file_lock(self.directory / "locks" / f"{name}.lock"):
                blobs = self._read(name)
                if blobs is None:
                    blobs = self._make(name, key, make)
        self._memo.put(key, blobs)
        return blobs

    def _read(self, name: str) -> Blobs | None:
        with self.sessions()() as session:
            row = session.get(DerivedBlobs, name)
            data = dict(row.blobs) if row is not None else None
        if data is None:
            return None
        if not self._intact(data):
            return None
        return {n: BlobRef(sha, size) for n, (sha, size) in data.items()}

    def _intact(self, data: Mapping[str, Any]) -> bool:
        """Whether every blob a row names is still stored."""
        return all(self.store.exists(sha) for sha, _ in data.values())

    def _make(self, name: str, key: str, make: Callable[[], Mapping[str, bytes]]) -> Blobs:
        blobs: Blobs = {}
        for n, data in make().items():
            info = self.store.put_bytes(data)
            blobs[n] = BlobRef(info.sha256, info.size)
        value = {n: [b.sha256, b.size] for n, b in blobs.items()}
        try:
            with transaction(self.sessions()) as session:
                row = session.get(DerivedBlobs, name, with_for_update=True)
                if row is None:
                    session.add(
                        DerivedBlobs(key_hash=name, key=key, blobs=value, created=self.now())
                    )
                elif self._intact(row.blobs):
                    # another node wrote it since we looked: serve its bytes, not ours
                    return {n: BlobRef(sha, size) for n, (sha, size) in row.blobs.items()}
                else:  # its blobs were collected: replace them
                    row.blobs = value
        except IntegrityError:
            # another node inserted it at the same moment: serve its bytes
            winner = self._read(name)
            if winner is not None:
                return winner
            raise
        return blobs
