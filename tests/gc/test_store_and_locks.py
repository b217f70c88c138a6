"""The parts of the blob store contract and of the sync lock the collector relies on, on
both backends and both databases: ages a put renews, a delete that spares what was
written since, and a sync that waits for a collection instead of being refused."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from repoversion.errors import Conflict
from repoversion.storage import BlobStore, FileSystemStore
from repoversion.versions import synclock
from repoversion.versions.synclock import gc_lock, sync_lock


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "fs":
        return FileSystemStore(tmp_path / "blobs")
    made: BlobStore = request.getfixturevalue("s3_store")
    return made


def _age(store: BlobStore, sha: str) -> datetime:
    return next(b.modified for b in store.iter_stored() if b.sha256 == sha)


def test_listing_gives_size_and_age(store: BlobStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)  # S3 dates to the second
    ref = store.put_bytes(b"hello")
    listed = {b.sha256: b for b in store.iter_stored()}
    assert set(listed) == {ref.sha256}
    assert listed[ref.sha256].size == 5
    assert before <= listed[ref.sha256].modified <= datetime.now(UTC) + timedelta(seconds=2)


def test_a_put_of_a_stored_blob_renews_its_age(store: BlobStore) -> None:
    ref = store.put_bytes(b"reused")
    if isinstance(store, FileSystemStore):
        os.utime(store.path_of(ref.sha256), (0, 0))  # written in 1970
        old = _age(store, ref.sha256)
    else:
        old = _age(store, ref.sha256)
        time.sleep(1.1)  # S3 dates objects to the second, and only it can date them
    assert store.put_bytes(b"reused") == ref
    assert _age(store, ref.sha256) > old
    assert store.read_bytes(ref.sha256) == b"reused"


def test_delete_if_older_spares_what_was_written_since(store: BlobStore) -> None:
    ref = store.put_bytes(b"young")
    written = _age(store, ref.sha256)
    assert store.delete_if_older(ref.sha256, written) is False  # written at the cutoff
    assert store.exists(ref.sha256)
    assert store.delete_if_older(ref.sha256, written + timedelta(seconds=1)) is True
    assert not store.exists(ref.sha256)
    assert store.delete_if_older(ref.sha256, datetime.now(UTC)) is False  # gone already
    assert list(store.iter_stored()) == []


def test_the_filesystem_delete_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    fs = FileSystemStore(tmp_path / "blobs")
    ref = fs.put_bytes(b"x")
    assert fs.delete_if_older(ref.sha256, datetime.now(UTC) + timedelta(hours=1))
    assert list(fs.tmp_dir.iterdir()) == []
    assert fs.sweep_leftovers() == 0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = create_engine(db_url)
    yield made
    made.dispose()


def test_a_second_sync_is_still_refused_at_once(engine: Engine) -> None:
    with sync_lock(engine), pytest.raises(Conflict, match="A sync is already running"):
        _sync(engine, [])
    with sync_lock(engine):
        pass  # released


def test_a_sync_waits_for_a_collection(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    waiting = threading.Event()
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        waiting.set()
        real_sleep(seconds)

    monkeypatch.setattr(synclock, "sleep", sleep)
    order: list[str] = []
    with gc_lock(engine):
        syncing = threading.Thread(target=lambda: _sync(engine, order))
        syncing.start()
        assert waiting.wait(30), "the sync did not wait for the collection"
        order.append("gc done")
    syncing.join(30)
    assert order == ["gc done", "synced"]


def _sync(engine: Engine, order: list[str]) -> None:
    with sync_lock(engine):
        order.append("synced")


def test_a_collection_waits_for_a_sync(engine: Engine) -> None:
    told = threading.Event()
    order: list[str] = []
    with sync_lock(engine):
        collecting = threading.Thread(
            target=lambda: _collect(engine, order, told), name="collector"
        )
        collecting.start()
        assert told.wait(30), "the collection did not wait for the sync"
        order.append("sync done")
    collecting.join(30)
    assert order == ["sync done", "collected"]
    with sync_lock(engine):
        pass  # both released


def _collect(engine: Engine, order: list[str], told: threading.Event) -> None:
    with gc_lock(engine, waiting=told.set):
        order.append("collected")
