"""The stanza digests of each scope's open package rows, per repoversion.

A re-sync must know which stanzas of a changed index the base version already has.
Reading 63,000 digests back from the ``package`` table takes about 90 ms on SQLite, a
fifth of a 1%-churn re-sync of Debian's main; the same digests as an array of 64-bit
integers in a blob load in 2 ms.

The commit writes one such set for every scope (suite, component, kind) of the version
it creates, in its transaction, as a ``derived`` row keyed
``stanzas/<version id>/<suite id>/<component>/<kind>`` whose blob is
content-addressed: a scope the version leaves unchanged points at the same blob as
before. Where a version has no set for a scope (made before sets existed, or its blob is
gone), a sync that reads that scope reads its rows' digests instead, and its commit
writes the set.

The set is exactly the digests of the open rows: the base's set, minus the digests whose
rows the version closes, plus the digests of the rows it adds.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from repoversion.db.models import DerivedBlobs
from repoversion.storage.base import BlobStore
from repoversion.versions.snapshot import Scope

PREFIX = "stanzas/"
#: names the blob in the row, and says how it is laid out: a set written another way is
#: not read (the sync reads the rows instead)
FORMAT = "int64le"


def key(version_id: int, suite_id: int, scope: Scope) -> str:
    return f"{PREFIX}{version_id}/{suite_id}/{scope[0]}/{scope[1]}"


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def pack(digests: Iterable[int]) -> bytes:
    """Signed 64-bit little-endian integers, in no particular order.

    >>> sorted(unpack(pack({3, -1, 2})))
    [-1, 2, 3]
    """
    items = array("q", digests)
    if sys.byteorder == "big":
        items.byteswap()
    return items.tobytes()


def unpack(data: bytes) -> array[int]:
    if len(data) % 8:
        raise ValueError("a stanza set's length is not a multiple of 8")
    items = array("q")
    items.frombytes(data)
    if sys.byteorder == "big":
        items.byteswap()
    return items


def load(
    session: Session, store: BlobStore, version_id: int, suite_id: int, scope: Scope
) -> set[int] | None:
    """The digests of the scope's open rows in that version, or ``None`` when unknown."""
    row = session.get(DerivedBlobs, _hash(key(version_id, suite_id, scope)))
    if row is None:
        return None
    ref = row.blobs.get(FORMAT)
    if ref is None:  # written in another format
        return None
    sha, _size = ref
    if not store.exists(sha):
        return None
    return set(unpack(store.read_bytes(sha)))


def write(
    session: Session,
    store: BlobStore,
    version_id: int,
    suite_id: int,
    scope: Scope,
    digests: Iterable[int],
    now: datetime,
) -> tuple[str, int]:
    """Store the set and record it for the version; returns the blob's (sha256, size)."""
    info = store.put_bytes(pack(digests))
    name = key(version_id, suite_id, scope)
    session.add(
        DerivedBlobs(
            key_hash=_hash(name), key=name, blobs={FORMAT: [info.sha256, info.size]}, created=now
        )
    )
    return info.sha256, info.size


def carry(
    session: Session,
    prev_id: int,
    version_id: int,
    skip: set[tuple[int, Scope]],
    now: datetime,
) -> None:
    """Give the new version the previous version's sets, except for ``skip``
    ((suite id, scope) written anew, or no longer there)."""
    prefix = f"{PREFIX}{prev_id}/"
    rows = session.execute(
        select(DerivedBlobs.key, DerivedBlobs.blobs).where(DerivedBlobs.key.startswith(prefix))
    ).all()
    for old_key, blobs in rows:
        suite_id, rest = old_key[len(prefix) :].split("/", 1)
        component, kind = rest.rsplit("/", 1)  # a component may contain "/"
        scope = (component, kind)
        if (int(suite_id), scope) in skip:
            continue
        name = key(version_id, int(suite_id), scope)
        session.add(DerivedBlobs(key_hash=_hash(name), key=name, blobs=blobs, created=now))
