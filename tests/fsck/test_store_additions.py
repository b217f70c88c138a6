"""What fsck needs from every blob store: a listing with sizes, and a quarantine.

Run against both backends (``fs`` on disk, ``s3`` through moto over HTTP), as the contract
suite of tests/storage is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from repoversion.errors import NotFound
from repoversion.storage import BlobStore, FileSystemStore, InvalidDigest
from repoversion.storage.s3 import S3Store
from tests.fsck.conftest import StoreAccess


@pytest.fixture(params=["fs", "s3"])
def access(request: pytest.FixtureRequest, tmp_path: Path) -> StoreAccess:
    if request.param == "fs":
        return StoreAccess(FileSystemStore(tmp_path / "store"))
    s3: S3Store = request.getfixturevalue("s3_store")
    return StoreAccess(s3, request.getfixturevalue("s3_client"))


def test_iter_blobs_gives_every_blob_with_its_stored_size(access: StoreAccess) -> None:
    store: BlobStore = access.store
    assert list(store.iter_blobs()) == []
    refs = {store.put_bytes(data) for data in (b"", b"a", b"hello" * 1000)}
    assert set(store.iter_blobs()) == refs
    assert {b.sha256 for b in store.iter_blobs()} == set(store.iter_digests())
    # a truncated blob is listed with the size it has now, under its name
    big = next(r for r in refs if r.size == 5000)
    access.overwrite(big.sha256, b"hello")
    sizes = {b.sha256: b.size for b in store.iter_blobs()}
    assert sizes[big.sha256] == 5


def test_quarantine_moves_a_blob_away_and_keeps_its_bytes(access: StoreAccess) -> None:
    store = access.store
    ref = store.put_bytes(b"precious")
    other = store.put_bytes(b"other")
    access.overwrite(ref.sha256, b"precioUs")
    where = store.quarantine(ref.sha256)
    assert where == f"quarantine/{ref.sha256}"
    assert not store.exists(ref.sha256)
    assert access.quarantined(where) == b"precioUs"
    # never listed as a blob, and the others are untouched
    assert [b.sha256 for b in store.iter_blobs()] == [other.sha256]
    assert store.read_bytes(other.sha256) == b"other"
    # the same digest quarantined again gets the next name; the first copy stays
    store.put_bytes(b"precious")
    assert store.quarantine(ref.sha256) == f"quarantine/{ref.sha256}.1"
    assert access.quarantined(f"quarantine/{ref.sha256}.1") == b"precious"
    assert access.quarantined(where) == b"precioUs"
    # a writer may store it again at its address
    assert store.put_bytes(b"precious") == ref
    assert store.verify(ref.sha256)


def test_quarantine_refuses_what_is_absent_or_not_a_digest(access: StoreAccess) -> None:
    store = access.store
    absent = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(NotFound):
        store.quarantine(absent)
    with pytest.raises(InvalidDigest):
        store.quarantine("../../etc/passwd")
    assert list(store.iter_blobs()) == []
