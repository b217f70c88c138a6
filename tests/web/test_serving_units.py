"""Unit checks of the serving domain: Release text, paths, caches, ranges."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask, request

from repoversion.config import Settings
from repoversion.errors import NotFound
from repoversion.serving.cache import LRU
from repoversion.serving.lookup import clean_path, signed_text
from repoversion.serving.release import complete_entries, render_release
from repoversion.serving.target import Target
from repoversion.storage import FileSystemStore
from repoversion.web.files import IMMUTABLE, Caching, send_target

DATE = datetime(2025, 6, 1, tzinfo=UTC)


def _entry(data: bytes, md5: bool = True) -> dict[str, object]:
    return {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest() if md5 else None,
    }


def test_release_text_is_the_golden_shape() -> None:
    text = render_release(
        {
            "Origin": "Debian",
            "Label": "Debian",
            "Suite": "stable",
            "Version": "12.5",
            "Codename": "bookworm",
            "Description": "Debian 12.5",
            "No-Support-for-Architecture-all": "Packages",
            "Valid-Until": "Sat, 01 Jan 2000 00:00:00 UTC",
        },
        {
            "main/binary-amd64/Packages": {"size": 10, "sha256": "a" * 64, "md5": "b" * 32},
            "main/binary-amd64/Packages.gz": {"size": 5, "sha256": "c" * 64, "md5": "d" * 32},
            "contrib/binary-arm64/Packages.xz": {"size": 7, "sha256": "e" * 64, "md5": None},
            "main/source/Sources.xz": {"size": 8, "sha256": "f" * 64, "md5": "0" * 32},
        },
        date=DATE,
        snapshots="http://h/v/@SNAPSHOTID@/debian",
    ).decode()
    assert text == (
        "Origin: Debian\nLabel: Debian\nSuite: stable\nVersion: 12.5\nCodename: bookworm\n"
        "Date: Sun, 01 Jun 2025 00:00:00 UTC\nAcquire-By-Hash: yes\n"
        "No-Support-for-Architecture-all: Packages\nArchitectures: amd64 arm64\n"
        "Components: main contrib\nDescription: Debian 12.5\n"
        "Snapshots: http://h/v/@SNAPSHOTID@/debian\n"
        "SHA256:\n"
        f" {'e' * 64}                7 contrib/binary-arm64/Packages.xz\n"
        f" {'a' * 64}               10 main/binary-amd64/Packages\n"
        f" {'c' * 64}                5 main/binary-amd64/Packages.gz\n"
        f" {'f' * 64}                8 main/source/Sources.xz\n"
        "MD5Sum:\n"
        f" {'b' * 32}               10 main/binary-amd64/Packages\n"
        f" {'d' * 32}                5 main/binary-amd64/Packages.gz\n"
        f" {'0' * 32}                8 main/source/Sources.xz\n"
    )


def test_missing_md5_is_computed_from_stored_bytes(tmp_path: Path) -> None:
    store = FileSystemStore(tmp_path)
    raw = b"Package: hello\n"
    gz = gzip.compress(raw, mtime=0)
    store.put_bytes(gz)
    entries = {"main/binary-amd64/Packages": _entry(raw, md5=False)}
    served = {"main/binary-amd64/Packages.gz": _entry(gz)}
    out = complete_entries(entries, served, store)
    assert out["main/binary-amd64/Packages"]["md5"] == hashlib.md5(raw).hexdigest()
    assert out["main/binary-amd64/Packages.gz"]["md5"] == hashlib.md5(gz).hexdigest()


def test_clean_path_and_signed_text() -> None:
    assert clean_path("dists/bookworm/InRelease") == "dists/bookworm/InRelease"
    for bad in ("", "/etc", "a/../b", "a/./b", "a//b", "a/", "..", "a\\b", "a\x00b"):
        with pytest.raises(NotFound):
            clean_path(bad)
    message = (
        b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: X\n- -dashed\n"
        b"-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"
    )
    assert signed_text(message) == b"Origin: X\n-dashed\n"


def test_lru_bounds_and_expires() -> None:
    now = [0.0]
    cache: LRU[str, int] = LRU(2, ttl=5, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b, the least recently used
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    now[0] = 6
    assert cache.get("a") is None and len(cache) == 1


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        ("bytes=0-0", 206, b"0"),
        ("bytes=8-", 206, b"89"),
        ("bytes=-3", 206, b"789"),
        ("bytes=5-100", 206, b"56789"),
        ("bytes=-100", 206, b"0123456789"),
        ("bytes=10-", 416, b""),
        ("bytes=-0", 416, b""),
        ("bytes=5-2", 200, b"0123456789"),
        ("bytes=0-1,4-5", 200, b"0123456789"),
        ("items=0-1", 200, b"0123456789"),
    ],
)
def test_ranges(tmp_path: Path, header: str, status: int, body: bytes) -> None:
    store = FileSystemStore(tmp_path / "blobs")
    info = store.put_bytes(b"0123456789")
    app = Flask(__name__)
    settings = Settings(home=tmp_path)
    with app.test_request_context("/x", headers={"Range": header}):
        resp = send_target(
            request, store, settings, Target(info.sha256, 10, "x.deb"), Caching(IMMUTABLE, DATE)
        )
        resp.direct_passthrough = False
        assert resp.status_code == status
        if status == 416:  # every 4xx carries {code, message}
            assert json.loads(resp.get_data())["code"] == "requested_range_not_satisfiable"
        else:
            assert resp.get_data() == body
        if status == 416:
            assert resp.headers["Content-Range"] == "bytes */10"
            assert resp.headers["Cache-Control"] == "no-store"
