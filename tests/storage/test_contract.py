"""The blob store contract, checked against every backend.

``fs`` is a :class:`FileSystemStore` under ``tmp_path``; ``s3`` is an :class:`S3Store`
talking HTTP to a real moto server on loopback (see ``tests/fixtures/s3.py``).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from repoversion.errors import ConfigError, DigestMismatch, NotFound
from repoversion.storage import BlobStore, FileSystemStore, InvalidDigest, blob_key, open_store
from repoversion.storage.s3 import S3Store
from tests.fixtures.s3 import ACCESS_KEY, REGION, SECRET_KEY

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    """A stream of ``total`` deterministic, non-repeating-looking bytes."""
    n = 0
    while n < total:
        block = hashlib.sha256(n.to_bytes(8, "big")).digest() * (size // 32)
        block = block[: min(size, total - n)]
        n += len(block)
        yield block


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        return FileSystemStore(tmp_path / "store")
    s3: S3Store = request.getfixturevalue("s3_store")
    return s3


def stored_files(store: BlobStore) -> set[str]:
    """Every name the backend holds, as keys relative to the store's root."""
    if isinstance(store, FileSystemStore):
        if not store.root.exists():
            return set()
        return {p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()}
    assert isinstance(store, S3Store)
    listing = store.client.list_objects_v2(Bucket=store.bucket)
    return {obj["Key"] for obj in listing.get("Contents", [])}


def corrupt(store: BlobStore, digest: str, data: bytes) -> None:
    """Replace a stored blob's bytes behind the store's back."""
    if isinstance(store, FileSystemStore):
        path = store.path_of(digest)
        os.chmod(path, 0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, S3Store)
        store.client.put_object(Bucket=store.bucket, Key=store.key_of(digest), Body=data)


# Round trips.


def test_implements_protocol(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


def test_put_bytes_round_trip(store: BlobStore) -> None:
    data = b"Package: hello\nVersion: 2.10-3\n"
    info = store.put_bytes(data)
    assert info.sha256 == sha(data)
    assert info.size == len(data)
    assert store.read_bytes(info.sha256) == data
    with store.open(info.sha256) as f:
        assert f.read() == data


def test_empty_blob(store: BlobStore) -> None:
    info = store.put_bytes(b"")
    assert info.sha256 == sha(b"")
    assert store.size(info.sha256) == 0
    assert store.read_bytes(info.sha256) == b""


def test_put_stream_from_generator(store: BlobStore) -> None:
    data = b"".join(chunks(3 * MiB + 17))
    info = store.put(chunks(3 * MiB + 17), expected_sha256=sha(data), expected_size=len(data))
    assert info.size == len(data)
    assert store.size(info.sha256) == len(data)
    with store.open(info.sha256) as f:
        assert hashlib.sha256(f.read()).hexdigest() == info.sha256


def test_put_stream_from_file_object(store: BlobStore) -> None:
    data = os.urandom(100_000)
    info = store.put(io.BytesIO(data))
    assert info.sha256 == sha(data)
    assert store.read_bytes(info.sha256) == data


# Byte ranges.


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [
        (0, None, slice(0, None)),
        (10, None, slice(10, None)),
        (10, 5, slice(10, 15)),
        (0, 1, slice(0, 1)),
        (95, 50, slice(95, 100)),  # reaches past the end: cut at the end
        (99, None, slice(99, None)),
        (100, None, slice(100, 100)),  # start at the end: empty
        (150, 10, slice(100, 100)),  # start past the end: empty
        (10, 0, slice(10, 10)),
    ],
)
def test_open_range(store: BlobStore, start: int, length: int | None, expected: slice) -> None:
    data = bytes(range(100))
    info = store.put_bytes(data)
    with store.open(info.sha256, start, length) as f:
        assert f.read() == data[expected]


def test_open_range_reads_in_small_pieces(store: BlobStore) -> None:
    data = b"".join(chunks(2 * MiB))
    info = store.put_bytes(data)
    with store.open(info.sha256, 1000, MiB) as f:
        pieces = []
        while piece := f.read(4096):
            pieces.append(piece)
    assert b"".join(pieces) == data[1000 : 1000 + MiB]


def test_open_negative_range(store: BlobStore) -> None:
    info = store.put_bytes(b"abc")
    with pytest.raises(ValueError):
        store.open(info.sha256, -1)
    with pytest.raises(ValueError):
        store.open(info.sha256, 0, -1)


def test_absent_blob(store: BlobStore) -> None:
    digest = sha(b"never stored")
    assert not store.exists(digest)
    with pytest.raises(NotFound):
        store.open(digest)
    with pytest.raises(NotFound):
        store.open(digest, 5, 10)
    with pytest.raises(NotFound):
        store.open(digest, 0, 0)
    with pytest.raises(NotFound):
        store.read_bytes(digest)
    with pytest.raises(NotFound):
        store.size(digest)
    with pytest.raises(NotFound):
        store.verify(digest)


# Expected digests and sizes.


def test_expected_digest_right(store: BlobStore) -> None:
    data = b"right"
    assert store.put_bytes(data, expected_sha256=sha(data)).sha256 == sha(data)
    assert store.exists(sha(data))


def test_expected_digest_wrong_stores_nothing(store: BlobStore) -> None:
    data = b"tampered .deb"
    claimed = sha(b"the real .deb")
    with pytest.raises(DigestMismatch) as caught:
        store.put(chunks(MiB), expected_sha256=claimed)
    assert caught.value.expected == claimed
    assert caught.value.actual == sha(b"".join(chunks(MiB)))
    with pytest.raises(DigestMismatch):
        store.put_bytes(data, expected_sha256=claimed)
    assert not store.exists(claimed)
    assert not store.exists(sha(data))
    assert list(store.iter_digests()) == []
    assert stored_files(store) == set()  # on fs: no temporary file left in tmp/ either


@pytest.mark.parametrize("expected_size", [5, 7])
def test_expected_size_wrong_stores_nothing(store: BlobStore, expected_size: int) -> None:
    data = b"123456"
    with pytest.raises(DigestMismatch):
        store.put([data[:3], data[3:]], expected_sha256=sha(data), expected_size=expected_size)
    assert not store.exists(sha(data))
    assert stored_files(store) == set()


def test_oversized_stream_fails_before_the_end(store: BlobStore) -> None:
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(DigestMismatch):
        store.put(endless(), expected_size=4096)
    assert consumed == 5
    assert stored_files(store) == set()


# Existence, size, deletion, listing.


def test_exists_size_delete(store: BlobStore) -> None:
    info = store.put_bytes(b"x" * 1234)
    assert store.exists(info.sha256)
    assert store.size(info.sha256) == 1234
    store.delete(info.sha256)
    assert not store.exists(info.sha256)
    store.delete(info.sha256)  # idempotent
    with pytest.raises(NotFound):
        store.size(info.sha256)


def test_iter_digests(store: BlobStore) -> None:
    assert list(store.iter_digests()) == []
    digests = {store.put_bytes(f"blob {i}".encode()).sha256 for i in range(5)}
    with store.writer() as pending:  # an uncommitted blob is not listed
        pending.write(b"pending")
        assert set(store.iter_digests()) == digests
    store.delete(next(iter(digests)))
    assert len(set(store.iter_digests())) == 4


def test_put_existing_blob_is_idempotent(store: BlobStore) -> None:
    first = store.put_bytes(b"same bytes")
    second = store.put_bytes(b"same bytes", expected_sha256=first.sha256)
    assert first == second
    assert list(store.iter_digests()) == [first.sha256]
    assert store.read_bytes(first.sha256) == b"same bytes"


def test_concurrent_writers_of_one_blob(store: BlobStore) -> None:
    data = b"".join(chunks(256 * 1024))
    writers = [store.writer(expected_sha256=sha(data)) for _ in range(3)]
    for w in writers:
        w.write(data[:1000])
    for w in writers:
        w.write(data[1000:])
    infos = {w.commit() for w in writers}
    assert len(infos) == 1
    assert store.read_bytes(sha(data)) == data
    assert list(store.iter_digests()) == [sha(data)]


def test_concurrent_threads_putting_one_blob(store: BlobStore) -> None:
    data = b"".join(chunks(512 * 1024))
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def put() -> None:
        try:
            barrier.wait()
            store.put(chunks(512 * 1024), expected_sha256=sha(data))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.verify(sha(data))
    assert stored_files(store) == {
        (f"{store.prefix}/" if isinstance(store, S3Store) else "") + blob_key(sha(data))
    }


# Writers.


def test_writer_commit(store: BlobStore) -> None:
    with store.writer(expected_size=6) as w:
        w.write(b"abc")
        w.write(b"def")
        assert w.size == 6
        info = w.commit()
    assert info.sha256 == sha(b"abcdef")
    assert store.read_bytes(info.sha256) == b"abcdef"
    with pytest.raises(ValueError):
        w.write(b"more")
    with pytest.raises(ValueError):
        w.commit()


def test_writer_abort(store: BlobStore) -> None:
    w = store.writer()
    w.write(b"aborted")
    w.abort()
    w.abort()  # twice is fine
    with pytest.raises(ValueError):
        w.commit()
    assert not store.exists(sha(b"aborted"))
    assert stored_files(store) == set()


def test_writer_aborts_on_exception(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.writer() as w:
        w.write(b"half a download")
        raise RuntimeError("connection reset")
    assert not store.exists(sha(b"half a download"))
    assert stored_files(store) == set()


def test_writer_without_commit_stores_nothing(store: BlobStore) -> None:
    with store.writer() as w:
        w.write(b"forgotten")
    assert not store.exists(sha(b"forgotten"))
    assert stored_files(store) == set()


# Addresses.


def test_blob_key_layout() -> None:
    digest = sha(b"hello")
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert blob_key(digest) == f"sha256/2c/{digest[2:]}"


def test_address_layout(store: BlobStore) -> None:
    info = store.put_bytes(b"hello")
    expected = f"sha256/2c/{info.sha256[2:]}"
    if isinstance(store, S3Store):
        expected = f"blobs/{expected}"
    assert stored_files(store) == {expected}


INVALID_DIGESTS = [
    "../../etc/passwd",
    "../" * 21 + "x",
    "2C" + "0" * 62,  # uppercase
    "0" * 63,
    "0" * 65,
    "g" * 64,
    "00/" + "0" * 61,
    "",
    "0" * 63 + "\n",
]


@pytest.mark.parametrize("bad", INVALID_DIGESTS)
def test_invalid_digests_are_rejected(store: BlobStore, tmp_path: Path, bad: str) -> None:
    victim = tmp_path / "etc" / "passwd"
    victim.parent.mkdir()
    victim.write_text("root:x:0:0")
    calls: list[Callable[[], object]] = [
        lambda: store.open(bad),
        lambda: store.read_bytes(bad),
        lambda: store.exists(bad),
        lambda: store.size(bad),
        lambda: store.delete(bad),
        lambda: store.verify(bad),
        lambda: store.local_path(bad),
        lambda: store.presigned_url(bad),
        lambda: store.writer(expected_sha256=bad),
        lambda: store.put_bytes(b"x", expected_sha256=bad),
    ]
    for call in calls:
        with pytest.raises(InvalidDigest) as caught:
            call()
        assert isinstance(caught.value, NotFound)
        assert isinstance(caught.value, ValueError)
    assert victim.read_text() == "root:x:0:0"
    assert stored_files(store) == set()
    if isinstance(store, FileSystemStore):
        assert not store.root.exists()  # nothing at all was created


def test_invalid_expected_size(store: BlobStore) -> None:
    with pytest.raises(ValueError):
        store.writer(expected_size=-1)


# Integrity.


def test_verify_detects_corruption(store: BlobStore) -> None:
    info = store.put_bytes(b"good bytes")
    assert store.verify(info.sha256)
    corrupt(store, info.sha256, b"evil bytes")
    assert not store.verify(info.sha256)


# Serving shortcuts.


def test_local_path_and_presigned_url(store: BlobStore) -> None:
    info = store.put_bytes(b"served")
    if isinstance(store, FileSystemStore):
        path = store.local_path(info.sha256)
        assert path == store.root / blob_key(info.sha256)
        assert path.read_bytes() == b"served"
        assert store.presigned_url(info.sha256) is None
        with pytest.raises(NotFound):
            store.local_path(sha(b"absent"))
    else:
        assert store.local_path(info.sha256) is None
        url = store.presigned_url(info.sha256, expires=60)
        assert url is not None
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"served"
        req = urllib.request.Request(url, headers={"Range": "bytes=1-3"})
        with urllib.request.urlopen(req, timeout=10) as response:
            assert response.status == 206
            assert response.read() == b"erv"


# Filesystem specifics.


def test_fs_blobs_are_read_only_and_tmp_is_clean(tmp_path: Path) -> None:
    fs = FileSystemStore(tmp_path / "store")
    info = fs.put(chunks(MiB))
    mode = stat.S_IMODE(fs.path_of(info.sha256).stat().st_mode)
    assert mode == 0o444
    assert list(fs.tmp_dir.iterdir()) == []


def test_fs_uncommitted_writer_lives_in_tmp(tmp_path: Path) -> None:
    fs = FileSystemStore(tmp_path / "store")
    with fs.writer() as w:
        w.write(b"partial")
        (part,) = fs.tmp_dir.iterdir()
        assert part.name.endswith(".part")
        assert list(fs.iter_digests()) == []
    assert list(fs.tmp_dir.iterdir()) == []


def test_fs_iter_digests_skips_foreign_files(tmp_path: Path) -> None:
    fs = FileSystemStore(tmp_path / "store")
    info = fs.put_bytes(b"real")
    (fs.root / "sha256" / "zz").mkdir()
    (fs.root / "sha256" / "zz" / ("0" * 62)).write_bytes(b"")
    (fs.root / "sha256" / info.sha256[:2] / "README").write_bytes(b"")
    (fs.root / "sha256" / "stray-file").write_bytes(b"")
    assert list(fs.iter_digests()) == [info.sha256]


# S3 specifics.


def test_s3_multipart_upload(make_s3_store: Callable[..., S3Store]) -> None:
    s3 = make_s3_store(multipart_threshold=MiB, multipart_chunksize=5 * MiB, spool_memory=MiB)
    total = 5 * MiB + 300 * 1024
    data = b"".join(chunks(total))
    info = s3.put(chunks(total), expected_sha256=sha(data), expected_size=total)
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.key_of(info.sha256))
    assert head["ETag"].strip('"').endswith("-2")  # two parts: 5 MiB + the rest
    assert head["Metadata"] == {"sha256": info.sha256}
    assert s3.verify(info.sha256)
    with s3.open(info.sha256, 5 * MiB - 10, 20) as f:
        assert f.read() == data[5 * MiB - 10 : 5 * MiB + 10]


def test_s3_without_prefix(make_s3_store: Callable[..., S3Store]) -> None:
    s3 = make_s3_store(prefix="")
    info = s3.put_bytes(b"at the root")
    assert stored_files(s3) == {blob_key(info.sha256)}
    assert list(s3.iter_digests()) == [info.sha256]


def test_s3_ignores_objects_outside_its_prefix(make_s3_store: Callable[..., S3Store]) -> None:
    mine = make_s3_store(prefix="a/b")
    other = make_s3_store(prefix="a")
    info = mine.put_bytes(b"nested")
    other.client.put_object(Bucket=other.bucket, Key="a/sha256/zz/not-a-blob", Body=b"")
    assert list(mine.iter_digests()) == [info.sha256]
    assert list(other.iter_digests()) == []
    assert not other.exists(info.sha256)


def test_s3_missing_bucket_is_a_storage_error(make_s3_store: Callable[..., S3Store]) -> None:
    from repoversion.errors import StorageError

    s3 = make_s3_store(bucket="no-such-bucket-here")
    with pytest.raises(StorageError):
        s3.put_bytes(b"nowhere")


# open_store.


def test_open_store_file(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/blobs")
    assert isinstance(store, FileSystemStore)
    assert store.root == tmp_path / "blobs"
    assert isinstance(open_store("file://localhost/srv/a%20b"), FileSystemStore)


def test_open_store_s3(s3_endpoint: str, s3_bucket: str, s3_client: S3Client) -> None:
    store = open_store(
        f"s3://{s3_bucket}/repo/blobs/",
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key=ACCESS_KEY,
        s3_secret_key=SECRET_KEY,
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == (s3_bucket, "repo/blobs")
    info = store.put_bytes(b"via open_store")
    body = s3_client.get_object(Bucket=s3_bucket, Key=f"repo/blobs/{blob_key(info.sha256)}")
    assert body["Body"].read() == b"via open_store"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/var/lib/blobs",
        "file://relative/path",
        "file:relative",
        "http://example.com/blobs",
        "s3://",
        "s3://Bad_Bucket",
        "s3://bucket/a//b",
        "s3://bucket/../x",
        "s3://bucket?x=1",
    ],
)
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_store(url)


def test_open_store_does_not_echo_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("s3://AKIA:supersecret@bucket/prefix")
    assert "supersecret" not in str(caught.value)


def test_open_store_needs_both_keys() -> None:
    with pytest.raises(ConfigError):
        open_store("s3://bucket", s3_access_key="only-one")
