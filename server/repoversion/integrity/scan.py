"""Re-hash every stored blob, in parallel, and quarantine those whose bytes no longer hash
to their name.

Blobs are read as streams (a chunk at a time, so a blob of any size costs a chunk of
memory) by a pool of threads: ``hashlib`` and the reads release the GIL, so a filesystem
store is hashed on every core and an S3 store keeps several downloads going. At most a few
blobs per thread are in flight, whatever the number of blobs. A corrupt blob is moved
away at once (:meth:`~repoversion.storage.base.BlobStore.quarantine`), so nothing serves
it any more, and kept for inspection.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from repoversion.errors import NotFound
from repoversion.storage.base import BlobRef, BlobStore
from repoversion.storage.streams import CHUNK_SIZE

T = TypeVar("T")
R = TypeVar("R")

#: blobs queued per thread: enough to keep each busy, few enough to bound memory
QUEUED_PER_THREAD = 4


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A blob whose bytes do not hash to its name.

    :ivar sha256: its name (the digest it should have).
    :ivar size: how many bytes the store held.
    :ivar actual: what those bytes hash to.
    :ivar quarantined: where they are now, relative to the store's root.
    """

    sha256: str
    size: int
    actual: str
    quarantined: str


@dataclass
class Scan:
    """What the store holds after the check.

    :ivar present: every blob at its address whose bytes match its name.
    :ivar blobs: how many blobs were read.
    :ivar bytes: how many bytes they held.
    :ivar corrupt: the blobs quarantined, by name.
    """

    present: set[str] = field(default_factory=set)
    blobs: int = 0
    bytes: int = 0
    corrupt: list[Corrupt] = field(default_factory=list)


def rehash(store: BlobStore, sha256: str) -> tuple[str, int] | None:
    """The digest and size of a stored blob's bytes, read as a stream.

    :returns: ``None`` when the blob went away meanwhile (collected by gc).
    """
    digest = hashlib.sha256()
    size = 0
    try:
        with store.open(sha256) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
    except NotFound:
        return None
    return digest.hexdigest(), size


def in_parallel(fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in the order of ``items``, ``threads`` at a time, with at most
    :data:`QUEUED_PER_THREAD` items per thread submitted ahead (``items`` may be long).

    >>> list(in_parallel(len, ["a", "bb"], 2))
    [('a', 1), ('bb', 2)]
    """
    threads = max(1, threads)
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="fsck") as pool:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= threads * QUEUED_PER_THREAD:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def scan_store(
    store: BlobStore, threads: int, progress: Callable[[int, int], None] | None = None
) -> Scan:
    """Re-hash every blob of ``store``; quarantine the corrupt ones.

    :param store: the blob store.
    :param threads: blobs read at once.
    :param progress: ``progress(bytes done, bytes in all)`` after each blob.
    :raises StorageError: the store cannot be listed or read.
    """
    listed = list(store.iter_blobs())
    total = sum(blob.size for blob in listed)
    scan = Scan()
    done = 0

    def check(blob: BlobRef) -> tuple[str, int] | None:
        return rehash(store, blob.sha256)

    for blob, result in in_parallel(check, listed, threads):
        done += blob.size
        if progress is not None:
            progress(done, total)
        if result is None:
            continue
        actual, size = result
        scan.blobs += 1
        scan.bytes += size
        if actual == blob.sha256:
            scan.present.add(blob.sha256)
            continue
        try:
            where = store.quarantine(blob.sha256)
        except NotFound:
            continue  # collected by gc since it was read
        scan.corrupt.append(Corrupt(blob.sha256, size, actual, where))
    return scan
