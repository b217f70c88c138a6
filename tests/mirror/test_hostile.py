"""Hostile upstreams: each refused with one sentence naming the archive and the file;
nothing is committed, what was stored stays, and a later good sync completes."""

from __future__ import annotations

import contextlib
import lzma
from datetime import UTC, datetime

import pytest

from tests.fixtures.archives import FileInfo, Pkg

PACKAGES_XZ = "main/binary-amd64/Packages.xz"


def relist(arc, suite: str, rel: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Upstream signs broken bytes: write ``data`` and list its true hashes in a new Release."""
    arc.write(f"dists/{suite}/{rel}", data)
    arc.listings[suite][rel] = FileInfo.of(data)
    plain = rel.removesuffix(".xz")
    if plain != rel and plain in arc.listings[suite]:
        with contextlib.suppress(lzma.LZMAError):
            arc.listings[suite][plain] = FileInfo.of(lzma.decompress(data))
    arc.resign()


@pytest.fixture
def synced(mirror, fixture_archive):  # type: ignore[no-untyped-def]
    """A mirror at 1.0.0 of an archive serving only Packages.xz (so each case hits it)."""
    arc = fixture_archive([Pkg("hello", "1.0")], compressions=(".xz",), by_hash=False)
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    return arc


def refused(mirror, *words: str) -> str:  # type: ignore[no-untyped-def]
    message = mirror.sync_fails()
    assert message.startswith("error: debian: "), message
    for word in words:
        assert word in message, message
    assert mirror.versions() == ["1.0.0"]
    assert mirror.show("1.0.0")["repoversion"] == "1.0.0"
    return message


def recovers(mirror, arc) -> None:  # type: ignore[no-untyped-def]
    arc.add(Pkg("fixed", "1.0"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.1.0"


def test_bad_signature(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    text = synced.read("dists/bookworm/InRelease")
    synced.write("dists/bookworm/InRelease", text.replace(b"Label: Test", b"Label: Evil"))
    refused(mirror, "InRelease")
    recovers(mirror, synced)


def test_unknown_key(mirror, synced, make_gpg_key) -> None:  # type: ignore[no-untyped-def]
    synced.signing_key = make_gpg_key("rogue")
    synced.add(Pkg("evil", "1.0"))
    synced.publish()
    refused(mirror, "InRelease", "not signed by")
    synced.signing_key = None


def test_checksum_mismatch(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("new", "1.0"))
    synced.publish()
    good = synced.read(f"dists/bookworm/{PACKAGES_XZ}")
    synced.write(f"dists/bookworm/{PACKAGES_XZ}", lzma.compress(b"Package: x\n"))
    refused(mirror, PACKAGES_XZ)
    synced.write(f"dists/bookworm/{PACKAGES_XZ}", good)
    assert mirror.sync()["repoversion"] == "1.1.0"


def test_truncated_xz(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("new", "1.0"))
    synced.publish()
    data = synced.read(f"dists/bookworm/{PACKAGES_XZ}")
    relist(synced, "bookworm", PACKAGES_XZ, data[: len(data) // 2])
    refused(mirror, PACKAGES_XZ, "truncated")
    recovers(mirror, synced)


def test_decompression_bomb(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    mirror.env["REPOVERSION_MAX_INDEX_SIZE"] = str(1 << 20)
    bomb = lzma.compress(b"\0" * (64 << 20), preset=1)
    assert len(bomb) < 100_000
    relist(synced, "bookworm", PACKAGES_XZ, bomb)
    refused(mirror, PACKAGES_XZ, "more than")


@pytest.mark.parametrize(
    "filename", ["pool/../../../etc/passwd", "/etc/passwd", "pool/main/h/x\\..\\y.deb"]
)
def test_unsafe_filename(mirror, synced, filename: str) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("evil", "1.0", index_overrides={"Filename": filename}))
    synced.publish()
    refused(mirror, "Packages", "evil")


def test_same_package_twice_with_different_contents(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("impostor", "1.0", files={"x": b"other"}, index_overrides={"Package": "hello"}))
    synced.publish()
    refused(mirror, "Packages", "hello", "twice")


def test_bytes_that_are_not_utf8(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    raw = lzma.decompress(synced.read(f"dists/bookworm/{PACKAGES_XZ}"))
    broken = raw.replace(b"Description: ", b"Description: \xff\xfe ", 1)
    relist(synced, "bookworm", PACKAGES_XZ, lzma.compress(broken))
    refused(mirror, "Packages", "UTF-8")


def test_release_dated_in_the_future(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("new", "1.0"))
    synced.publish(date=datetime(2030, 1, 1, tzinfo=UTC))
    refused(mirror, "InRelease", "future")


def test_expired_valid_until(mirror, synced) -> None:  # type: ignore[no-untyped-def]
    synced.add(Pkg("new", "1.0"))
    synced.publish(
        date=datetime(2025, 1, 1, tzinfo=UTC), valid_until=datetime(2025, 2, 1, tzinfo=UTC)
    )
    refused(mirror, "InRelease", "expired")


def test_several_versions_of_one_package_are_normal(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    arc.add(Pkg("hello", "2.0"), replace=False)
    arc.publish()
    mirror.add(arc)
    out = mirror.sync()
    assert out["repoversion"] == "1.0.0"
    assert out["changes"]["added"] == 1


def test_unreachable_required_archive_fails_and_optional_one_warns(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    good = fixture_archive([Pkg("hello", "1.0")], name="good")
    flaky = fixture_archive([Pkg("flaky", "1.0")], name="flaky")
    mirror.add(good)
    mirror.add(flaky, "--optional")
    assert mirror.sync()["repoversion"] == "1.0.0"
    flaky.server.fail("/flaky/*", 500)
    good.add(Pkg("hello", "1.1"))
    good.publish()
    out = mirror.sync()
    assert out["repoversion"] == "1.1.0"
    assert any("flaky" in w and "previous state" in w for w in out["warnings"])
    assert "flaky" in mirror.show("1.1.0")["archives"]
    assert mirror.cli("archive", "remove", "flaky").code == 0
    mirror.add(flaky)  # now required
    message = mirror.sync_fails()
    assert "flaky" in message
    assert mirror.versions() == ["1.1.0", "1.0.0"]
