"""The sweep: blobs nothing marked, written before the cutoff, are freed.

The store is listed before the collection takes the sync lock (a listing of a large
bucket takes minutes, and syncs wait meanwhile); a blob written after the listing is not
a candidate. After the mark, a candidate that is not live is *garbage* when both its age
in the store (its mtime or ``LastModified``, renewed by every put that reuses it) and its
``blob`` row's ``created`` are older than the cutoff (the collection's start minus the
grace); otherwise it is *spared* for now.

Garbage is freed a chunk at a time: first its ``blob`` rows (a row must never name a
blob that is gone: the sync trusts rows to skip downloads), then the bytes, each with
:meth:`~repoversion.storage.base.BlobStore.delete_if_older`, which looks at the blob's
age once more and spares one a writer has just taken up again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from repoversion.db.models import Blob
from repoversion.db.session import transaction
from repoversion.storage.base import BlobStore, StoredBlob
from repoversion.timefmt import utc

Progress = Callable[[str, int, int], None]
#: digests in one ``IN (…)``, and blobs freed between two progress reports
CHUNK = 500
#: deletions in flight at once (an S3 delete is a round trip)
THREADS = 8


@dataclass
class Listing:
    """What the store held when it was listed: digest → (size, modified)."""

    blobs: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(size for size, _ in self.blobs.values())


def list_store(store: BlobStore, progress: Progress) -> Listing:
    """Every blob of the store, with its size and age."""
    listing = Listing()
    for n, blob in enumerate(store.iter_stored(), start=1):
        listing.blobs[blob.sha256] = (blob.size, blob.modified)
        if n % 1000 == 0:
            progress("listing blobs", n, 0)
    progress("listing blobs", len(listing.blobs), len(listing.blobs))
    return listing


@dataclass
class Verdict:
    """Unmarked blobs: those to free, those spared because written within the grace."""

    garbage: list[StoredBlob] = field(default_factory=list)
    spared: list[StoredBlob] = field(default_factory=list)


def judge(session: Session, listing: Listing, live: set[str], cutoff: datetime) -> Verdict:
    """Sort the listed blobs nothing marked into garbage and spared (see the module)."""
    unmarked = [
        StoredBlob(sha, size, modified)
        for sha, (size, modified) in listing.blobs.items()
        if sha not in live
    ]
    created = _created(session, [b.sha256 for b in unmarked])
    verdict = Verdict()
    for blob in unmarked:
        row = created.get(blob.sha256)
        young = blob.modified >= cutoff or (row is not None and row >= cutoff)
        (verdict.spared if young else verdict.garbage).append(blob)
    return verdict


def _created(session: Session, digests: list[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for i in range(0, len(digests), CHUNK):
        for sha, created in session.execute(
            select(Blob.sha256, Blob.created).where(Blob.sha256.in_(digests[i : i + CHUNK]))
        ):
            found[sha] = utc(created)
    return found


@dataclass
class Freed:
    blobs: int = 0
    bytes: int = 0


def free(
    sessions: sessionmaker[Session],
    store: BlobStore,
    garbage: list[StoredBlob],
    cutoff: datetime,
    progress: Progress,
) -> Freed:
    """Free ``garbage``: blob rows first, then the bytes of each blob still older than
    ``cutoff``. Returns what was freed."""
    freed = Freed()
    with ThreadPoolExecutor(THREADS, thread_name_prefix="gc") as pool:
        for i in range(0, len(garbage), CHUNK):
            chunk = garbage[i : i + CHUNK]
            _forget(sessions, (b.sha256 for b in chunk))
            gone = pool.map(lambda b: store.delete_if_older(b.sha256, cutoff), chunk)
            for blob, deleted in zip(chunk, gone, strict=True):
                if deleted:
                    freed.blobs += 1
                    freed.bytes += blob.size
            progress("freeing blobs", i + len(chunk), len(garbage))
            progress("freed bytes", freed.bytes, 0)
    return freed


def _forget(sessions: sessionmaker[Session], digests: Iterable[str]) -> None:
    """Delete the ``blob`` rows of ``digests``."""
    with transaction(sessions) as s:
        s.execute(
            delete(Blob)
            .where(Blob.sha256.in_(list(digests)))
            .execution_options(synchronize_session=False)
        )
