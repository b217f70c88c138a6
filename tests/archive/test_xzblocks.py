"""Multi-block .xz files decoded a block per thread: same bytes, same refusals."""

from __future__ import annotations

import lzma
import struct
import subprocess
import threading
import zlib

import pytest

from repoversion.archive.decoding import Background, BlockDecoder, start_decoding
from repoversion.archive.xzblocks import split_blocks
from repoversion.errors import BadUpstream

TEXT = b"".join(
    b"Package: p%d\nVersion: 1.%d\nDescription: %s\n\n" % (i, i, b"x" * (i % 97))
    for i in range(40000)
)


def xz_blocks(data: bytes, block_size: int = 256 << 10) -> bytes:
    """What Debian publishes: ``xz`` with fixed-size blocks (sizes in the block headers)."""
    argv = ["xz", "-0", "-T1", f"--block-size={block_size}", "-c"]
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def decode(data: bytes, max_size: int = 1 << 30) -> bytes:
    return b"".join(start_decoding(data, "xz", max_size=max_size, what="dists/x/Packages.xz"))


def _index_offsets(data: bytes) -> tuple[int, int]:
    """(start, size) of the index of a one-stream .xz."""
    size = (struct.unpack("<I", data[-8:-4])[0] + 1) * 4
    return len(data) - 12 - size, size


def test_blocks_decode_to_the_same_bytes() -> None:
    data = xz_blocks(TEXT)
    blocks = split_blocks(data)
    assert blocks is not None and len(blocks) == -(-len(TEXT) // (256 << 10))
    assert sum(size for _, size in blocks) == len(TEXT)
    out = b"".join(BlockDecoder(blocks, workers=3, max_size=1 << 30, what="x"))
    assert out == TEXT
    assert decode(data) == TEXT


def test_one_block_or_several_streams_are_not_split_and_still_decode() -> None:
    single = lzma.compress(TEXT)
    assert split_blocks(single) is None
    assert decode(single) == TEXT
    two_streams = xz_blocks(TEXT[:300000]) + xz_blocks(TEXT[300000:])
    assert split_blocks(two_streams) is None
    assert decode(two_streams) == TEXT
    padded = xz_blocks(TEXT) + b"\0" * 8
    assert split_blocks(padded) is None
    assert decode(padded) == TEXT


def test_too_many_blocks_decode_as_one_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from repoversion.archive import xzblocks

    data = xz_blocks(TEXT, block_size=64 << 10)
    assert split_blocks(data) is not None
    monkeypatch.setattr(xzblocks, "MAX_BLOCKS", 8)
    assert split_blocks(data) is None
    assert decode(data) == TEXT


def test_a_corrupt_block_is_refused() -> None:
    data = bytearray(xz_blocks(TEXT))
    blocks = split_blocks(bytes(data))
    assert blocks is not None
    # a byte in the middle of the second block's compressed data
    start = 12 + len(blocks[0][0][1])
    data[start + len(blocks[1][0][1]) // 2] ^= 0xFF
    with pytest.raises(BadUpstream, match="is not valid xz data"):
        decode(bytes(data))


def test_an_index_that_understates_a_block_is_refused() -> None:
    """A block that decodes to more than its index record says (a bomb behind a small
    claim) is stopped: by liblzma's own checks or by the decoder's count."""
    data = bytearray(xz_blocks(TEXT, block_size=1 << 20))
    start, size = _index_offsets(bytes(data))
    index = bytes(data[start : start + size])
    # records start after the indicator and the count (1 byte each here); lower the
    # first block's uncompressed size, keeping the varint's length: decrement its last
    # (most significant) byte
    pos = 2
    while index[pos] & 0x80:
        pos += 1
    pos += 1  # past the unpadded size: the uncompressed size follows
    while index[pos] & 0x80:
        pos += 1
    assert index[pos] > 1
    patched = bytearray(index)
    patched[pos] -= 1
    patched[-4:] = struct.pack("<I", zlib.crc32(bytes(patched[:-4])))
    data[start : start + size] = patched
    assert split_blocks(bytes(data)) is not None
    with pytest.raises(BadUpstream, match="is not valid xz data"):
        decode(bytes(data))


def test_sizes_beyond_the_cap_are_refused_before_decoding() -> None:
    data = xz_blocks(b"\0" * (8 << 20), block_size=1 << 20)
    with pytest.raises(BadUpstream, match="decompresses to more than 1048576 bytes"):
        decode(data, max_size=1 << 20)


def test_truncated_file_is_refused() -> None:
    data = xz_blocks(TEXT)
    assert split_blocks(data[:-5]) is None
    with pytest.raises(BadUpstream, match=r"truncated|not valid"):
        decode(data[:-5])


def test_closing_before_reading_stops_every_thread() -> None:
    before = threading.active_count()
    for kind, data in (("xz", xz_blocks(TEXT)), ("xz", lzma.compress(TEXT))):
        decoding = start_decoding(data, kind, max_size=1 << 30, what="x")
        assert isinstance(decoding, BlockDecoder | Background)
        decoding.close()
    assert threading.active_count() == before
