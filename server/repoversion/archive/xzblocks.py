"""Split a multi-block .xz file into blocks that decode independently.

Debian writes a large ``Packages.xz`` in blocks (two of 24 MiB for bookworm's main
amd64). Blocks are independent, so each one can be decoded in its own thread (liblzma
releases the GIL; :mod:`repoversion.archive.decoding` does it): 0.33 s for that file on
two cores instead of 0.57 s on one, and no pipe to an ``xz`` process to copy 50 MB through.

The file's index (at its end) gives each block's compressed and uncompressed size. Each
block is wrapped in a stream of its own (the file's stream header, the block, a one-record
index, a footer), so liblzma checks everything it checks for the whole file: the block's
check (CRC64/SHA-256), that the block matches its index record, the index's CRC32. A file
that is not a plain sequence of blocks in one stream (several streams, padding, an index
that does not tile the file) is not split: :func:`split_blocks` returns ``None`` and the
caller decodes it as one stream.

>>> import lzma
>>> data = lzma.compress(b"Package: a\\n")
>>> split_blocks(data) is None  # one block: nothing to gain
True
"""

from __future__ import annotations

import struct
import zlib

_HEADER_MAGIC = b"\xfd7zXZ\x00"
_FOOTER_MAGIC = b"YZ"
#: more blocks than this are decoded as one stream: small blocks gain nothing, and a
#: hostile index should not make the decoder set up a queue per tiny block
MAX_BLOCKS = 1024


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """An xz multibyte integer at ``pos``: (value, position after it)."""
    value = 0
    for i in range(9):
        if pos >= len(buf):
            raise ValueError("index ends inside a number")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise ValueError("number longer than 9 bytes")


def _encode(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _records(data: bytes) -> list[tuple[int, int]] | None:
    """(unpadded size, uncompressed size) of each block of a one-stream file, or ``None``."""
    if len(data) < 24 or data[:6] != _HEADER_MAGIC or data[-2:] != _FOOTER_MAGIC:
        return None
    footer = data[-12:]
    if footer[8:10] != data[6:8] or zlib.crc32(footer[4:10]) != struct.unpack("<I", footer[:4])[0]:
        return None
    index_size = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
    if index_size > len(data) - 24:
        return None
    index = data[-12 - index_size : -12]
    if index[0] != 0 or zlib.crc32(index[:-4]) != struct.unpack("<I", index[-4:])[0]:
        return None
    try:
        count, pos = _varint(index, 1)
        if count > len(index):
            return None
        records = []
        for _ in range(count):
            unpadded, pos = _varint(index, pos)
            size, pos = _varint(index, pos)
            records.append((unpadded, size))
    except ValueError:
        return None
    blocks_end = 12 + sum(u + (-u % 4) for u, _ in records)
    if blocks_end != len(data) - 12 - index_size:
        return None  # stream padding, several streams, or a lying index
    return records


#: a block as a stream of its own: its parts (views into the file, not copies) and its
#: uncompressed size
Block = tuple[tuple[bytes | memoryview, ...], int]


def split_blocks(data: bytes) -> list[Block] | None:
    """Each block of ``data`` as a stream of its own, with its uncompressed size.

    :returns: ``None`` unless ``data`` is one stream of 2 to :data:`MAX_BLOCKS` blocks.
    """
    records = _records(data)
    if records is None or not 2 <= len(records) <= MAX_BLOCKS:
        return None
    view = memoryview(data)
    header, flags = data[:12], data[6:8]
    out: list[Block] = []
    offset = 12
    for unpadded, size in records:
        padded = unpadded + (-unpadded % 4)
        index = b"\x00" + _encode(1) + _encode(unpadded) + _encode(size)
        index += b"\x00" * (-len(index) % 4)
        index += struct.pack("<I", zlib.crc32(index))
        backward = struct.pack("<I", len(index) // 4 - 1)
        footer = struct.pack("<I", zlib.crc32(backward + flags)) + backward + flags + _FOOTER_MAGIC
        out.append(((header, view[offset : offset + padded], index + footer), size))
        offset += padded
    return out
