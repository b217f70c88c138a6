"""Bounded decompression: every format, bombs, truncation, garbage."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import subprocess
import time
import tracemalloc
import zlib

import pytest

from repoversion.archive import compression
from repoversion.archive.compression import available, decompress, kind_from_path
from repoversion.errors import BadUpstream, ConfigError

TEXT = b"".join(b"Package: p%d\nVersion: 1.%d\n\n" % (i, i) for i in range(2000))
BOMB_OUTPUT = 200 * 1024 * 1024
CAP = 10 * 1024 * 1024

needs_zstd = pytest.mark.skipif(not available("zst"), reason="no zstd decoder installed")


def zstd_compress(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def compress(kind: str, data: bytes) -> bytes:
    if kind == "xz":
        return lzma.compress(data)
    if kind == "gz":
        return gzip.compress(data)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "zst":
        return zstd_compress(data)
    return data


KINDS = ["xz", "gz", "bz2", pytest.param("zst", marks=needs_zstd), ""]
COMPRESSED = ["xz", "gz", "bz2", pytest.param("zst", marks=needs_zstd)]


def _bomb(compressor: lzma.LZMACompressor | zlib._Compress) -> bytes:
    """200 MB of zeros compressed, built without ever holding the 200 MB."""
    zeros = bytes(1 << 20)
    parts = [compressor.compress(zeros) for _ in range(BOMB_OUTPUT >> 20)]
    return b"".join([*parts, compressor.flush()])


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "xz": _bomb(lzma.LZMACompressor(preset=1)),
        "gz": _bomb(zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip(kind: str) -> None:
    assert decompress(compress(kind, TEXT), kind, max_size=len(TEXT)) == TEXT


@pytest.mark.parametrize("kind", KINDS)
def test_file_object_input(kind: str) -> None:
    stream = io.BytesIO(compress(kind, TEXT))
    assert decompress(stream, kind, max_size=len(TEXT)) == TEXT


@pytest.mark.parametrize("kind", KINDS)
def test_output_cap_is_exact(kind: str) -> None:
    with pytest.raises(BadUpstream) as caught:
        decompress(compress(kind, TEXT), kind, max_size=len(TEXT) - 1, what="main/Packages")
    assert str(caught.value) == f"main/Packages decompresses to more than {len(TEXT) - 1} bytes"


@pytest.mark.parametrize("kind", COMPRESSED)
def test_concatenated_streams(kind: str) -> None:
    data = compress(kind, b"first\n") + compress(kind, b"second\n")
    assert decompress(data, kind, max_size=100) == b"first\nsecond\n"


def test_xz_stream_padding() -> None:
    data = lzma.compress(b"a") + bytes(4) + lzma.compress(b"b") + bytes(8)
    assert decompress(data, "xz", max_size=10) == b"ab"


@pytest.mark.parametrize("kind", ["xz", "gz"])
def test_bomb_is_refused_quickly_in_bounded_memory(bombs: dict[str, bytes], kind: str) -> None:
    bomb = bombs[kind]
    assert len(bomb) < 300_000  # xz: ~30 KB, gz: ~200 KB for 200 MB
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BadUpstream, match=f"decompresses to more than {CAP} bytes"):
            decompress(bomb, kind, max_size=CAP, what=f"main/binary-amd64/Packages.{kind}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 3 * CAP


@needs_zstd
def test_zstd_bomb_is_refused() -> None:
    proc = subprocess.run(
        ["sh", "-c", f"head -c {BOMB_OUTPUT} /dev/zero | zstd -q -c"],
        capture_output=True,
        check=True,
    )
    with pytest.raises(BadUpstream, match="decompresses to more than"):
        decompress(proc.stdout, "zst", max_size=CAP)


@pytest.mark.parametrize("kind", COMPRESSED)
def test_truncated_stream_is_refused(kind: str) -> None:
    data = compress(kind, TEXT)
    with pytest.raises(BadUpstream) as caught:
        decompress(data[: len(data) // 2], kind, max_size=len(TEXT), what="Packages.x")
    assert str(caught.value).startswith("Packages.x is truncated")


@pytest.mark.parametrize("kind", COMPRESSED)
def test_empty_input_is_truncated(kind: str) -> None:
    with pytest.raises(BadUpstream, match="is truncated: it is empty"):
        decompress(b"", kind, max_size=10)


@pytest.mark.parametrize("kind", COMPRESSED)
def test_garbage_is_refused(kind: str) -> None:
    with pytest.raises(BadUpstream) as caught:
        decompress(b"<html>404 Not Found</html>", kind, max_size=10, what="Packages.x")
    assert str(caught.value) == (
        f"Packages.x is not {kind} data: it does not start with the {kind} magic"
    )


@pytest.mark.parametrize("kind", ["xz", "gz", "bz2"])
def test_corrupt_body_is_refused(kind: str) -> None:
    data = bytearray(compress(kind, TEXT))
    for i in range(20, 60):
        data[i] ^= 0xFF
    with pytest.raises(BadUpstream, match=f"^P is not valid {kind} data"):
        decompress(bytes(data), kind, max_size=len(TEXT), what="P")


def test_trailing_garbage_is_refused() -> None:
    with pytest.raises(BadUpstream, match="not valid gz data"):
        decompress(gzip.compress(b"a") + b"garbage!", "gz", max_size=10)


def test_zstd_cli_without_module(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("zstd") is None:
        pytest.skip("no zstd program")
    monkeypatch.setattr(compression, "_zstandard", lambda: None)
    data = zstd_compress(TEXT)
    assert decompress(data, "zst", max_size=len(TEXT)) == TEXT
    with pytest.raises(BadUpstream, match="decompresses to more than"):
        decompress(data, "zst", max_size=100)
    with pytest.raises(BadUpstream, match="is truncated"):
        decompress(data[:-10], "zst", max_size=len(TEXT))


def test_zstd_without_any_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "_zstandard", lambda: None)
    monkeypatch.setattr(compression.shutil, "which", lambda name: None)
    assert not available("zst")
    with pytest.raises(ConfigError, match="install the 'zstandard' Python module or the zstd"):
        decompress(b"\x28\xb5\x2f\xfd....", "zst", max_size=10, what="Packages.zst")


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        decompress(b"x", "lz4", max_size=10)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("main/binary-amd64/Packages.xz", "xz"),
        ("main/binary-amd64/Packages.gz", "gz"),
        ("main/i18n/Translation-fr.bz2", "bz2"),
        ("main/source/Sources.zst", "zst"),
        ("main/binary-amd64/Packages", ""),
        ("main/binary-amd64/Packages.diff/Index", ""),
    ],
)
def test_kind_from_path(path: str, kind: str) -> None:
    assert kind_from_path(path) == kind
