"""The real, signed Debian indices of the corpus (tests/fixtures/corpus.py), synced offline
from loopback."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.archives import ArchiveServer


@pytest.fixture
def corpus_url(corpus: Path):  # type: ignore[no-untyped-def]
    with ArchiveServer() as server:
        server.mount("debian", corpus / "debian")
        server.mount("debian-security", corpus / "debian-security")
        yield server.base_url


def test_corpus_syncs_into_1_0_0(
    mirror, corpus_url: str, corpus: Path, debian_keyring_path: Path
) -> None:  # type: ignore[no-untyped-def]
    mirror.env["REPOVERSION_NOW"] = "2026-11-25T00:00:00Z"
    for name, suites in (
        ("debian", ["bookworm", "bookworm-updates"]),
        ("debian-security", ["bookworm-security"]),
    ):
        mirror.add_url(name, f"{corpus_url}/{name}", debian_keyring_path, suites=suites)
    out = mirror.sync()
    assert out["repoversion"] == "1.0.0" and out["warnings"] == []
    index = mirror.show("1.0.0")
    assert sorted(index["archives"]) == ["debian", "debian-security"]
    bookworm = index["archives"]["debian"]["suites"]["bookworm"]
    assert bookworm["release"]["codename"] == "bookworm"
    assert bookworm["release"]["date"] == "2026-07-11T10:16:37Z"
    inrelease = (corpus / "debian/dists/bookworm/InRelease").read_bytes()
    assert bookworm["release"]["sha256"] == hashlib.sha256(inrelease).hexdigest()
    for arc, suite in (
        ("debian", "bookworm"),
        ("debian", "bookworm-updates"),
        ("debian-security", "bookworm-security"),
    ):
        files = index["archives"][arc]["suites"][suite]["files"]
        assert sorted(files) == ["main/binary-amd64/Packages.xz", "main/i18n/Translation-en.xz"]
        for path, ref in files.items():
            data = (corpus / arc / "dists" / suite / path).read_bytes()
            assert ref == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    con = sqlite3.connect(mirror.home / "repoversion.db")
    counts = dict(
        con.execute(
            "SELECT s.name, count(*) FROM package p JOIN suite s ON s.id = p.suite_id "
            "WHERE p.removed IS NULL GROUP BY s.name"
        )
    )
    con.close()
    assert counts == {"bookworm": 63440, "bookworm-updates": 38, "bookworm-security": 3028}
    again = mirror.sync()
    assert again["new"] is False
