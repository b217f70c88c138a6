"""Streams the blob stores share: chunked reading, ranges, a reader that stops after N
bytes."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Protocol

#: bytes read or written at a time
CHUNK_SIZE = 1024 * 1024


def iter_chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Yield the chunks of a binary file-like object or of an iterable of bytes.

    :param stream: anything with ``read(n)``, or an iterable of ``bytes``.
    """
    if isinstance(stream, bytes | bytearray | memoryview):
        yield bytes(stream)
        return
    read = getattr(stream, "read", None)
    if read is not None:
        while chunk := read(CHUNK_SIZE):
            yield chunk
        return
    yield from stream


def check_range(start: int, length: int | None) -> None:
    """:raises ValueError: when ``start`` or ``length`` is negative."""
    if start < 0:
        raise ValueError("start must not be negative")
    if length is not None and length < 0:
        raise ValueError("length must not be negative")


class LimitedReader(io.RawIOBase):
    """A raw reader over anything with ``read(n)``, stopping after ``limit`` bytes.

    Wrap it in :class:`io.BufferedReader` to get a full ``BinaryIO``.
    """

    def __init__(self, source: _Readable, limit: int | None = None) -> None:
        """:param source: the underlying stream; closed with this reader.
        :param limit: how many bytes to deliver at most; ``None`` for all.
        """
        super().__init__()
        self._source = source
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        if self._left is not None:
            want = min(want, self._left)
        if want == 0:
            return 0
        data = self._source.read(want)
        n = len(data)
        view[:n] = data
        if self._left is not None:
            self._left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


class _Readable(Protocol):
    def read(self, n: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


def limited(source: _Readable, limit: int | None = None) -> BinaryIO:
    """Return a buffered ``BinaryIO`` reading at most ``limit`` bytes from ``source``."""
    return io.BufferedReader(LimitedReader(source, limit), buffer_size=CHUNK_SIZE)
