"""Decode an index in the background while the caller does other work.

:func:`start_decoding` begins at once and returns a :class:`Decoding`: iterating it yields
the output in order. A multi-block .xz (:mod:`repoversion.archive.xzblocks`) is decoded a
block per core by :class:`BlockDecoder`; anything else by
:func:`repoversion.archive.compression.iter_decompress` in one thread
(:class:`Background`). Both hand chunks over queues; a worker's exception is put on its
queue and raised in the consumer, where it names the file.
"""

from __future__ import annotations

import lzma
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, runtime_checkable

from repoversion.archive.compression import iter_decompress
from repoversion.archive.xzblocks import Block, split_blocks
from repoversion.errors import BadUpstream

_OUT_CHUNK = 4 << 20
_END = object()


def start_decoding(
    data: bytes, kind: str, *, max_size: int, what: str = "the index file"
) -> Decoding:
    """Start decoding ``data`` in the background now; iterate the result for its output.

    Close the result (or iterate it to the end) to stop the threads.

    :raises BadUpstream: as :func:`~repoversion.archive.compression.decompress`, when the
        offending chunk is reached (or at once, when an .xz index claims too much).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    blocks = split_blocks(data) if kind == "xz" and cores > 1 else None
    if blocks is not None:
        return BlockDecoder(blocks, workers=cores, max_size=max_size, what=what)
    return Background(iter_decompress(data, kind, max_size=max_size, what=what))


@runtime_checkable
class Decoding(Protocol):
    """Output being decoded in the background (:func:`start_decoding`)."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def _drain(source: queue.Queue[object]) -> Iterator[bytes]:
    """Chunks from a worker's queue up to its end mark; a worker's exception is raised."""
    while (item := source.get()) is not _END:
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, bytes)
        yield item


class Background:
    """Runs an iterator of chunks in a thread from now on, a few chunks ahead of the
    consumer; iterating yields them (and raises what the iterator raised)."""

    def __init__(self, chunks: Iterator[bytes], ahead: int = 16) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce, args=(chunks,), name="decompress", daemon=True
        )
        self._thread.start()

    def _produce(self, chunks: Iterator[bytes]) -> None:
        try:
            for chunk in chunks:
                while not self._stop.is_set():
                    try:
                        self._queue.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._queue.put(exc)

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from _drain(self._queue)
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _decode_block(block: Block, out: queue.Queue[object], what: str) -> None:
    """Decode one block into ``out``: chunks of up to 4 MiB (each costs a trip through
    the GIL and the queue), then the end mark or an exception."""
    parts, size = block
    try:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        total = 0
        feed = iter(parts)
        data: bytes | memoryview = b""
        while not dec.eof:
            if dec.needs_input and not data:
                data = next(feed, b"")
                if not data:
                    raise BadUpstream(f"{what} is truncated: its xz stream ends early")
            chunk = dec.decompress(data, _OUT_CHUNK)
            data = b""
            total += len(chunk)
            if total > size:  # liblzma would notice at the block's end; stop a bomb now
                raise BadUpstream(f"{what} is not valid xz data (a block exceeds its index)")
            if chunk:
                out.put(chunk)
        out.put(_END)
    except lzma.LZMAError as exc:
        out.put(BadUpstream(f"{what} is not valid xz data ({exc})"))
    except BaseException as exc:  # handed to the consumer, raised there
        out.put(exc)


class BlockDecoder:
    """Decodes ``blocks`` (from :func:`~repoversion.archive.xzblocks.split_blocks`) from
    the moment it is made, up to ``workers`` at once; iterating yields the output in order.

    A block starts decoding when the consumer reaches the block ``workers`` before it, so
    at most ``workers`` blocks' output waits in memory. :meth:`close` (also at the end of
    the iteration) waits for the blocks being decoded and drops the rest.

    :raises BadUpstream: invalid data, or more than ``max_size`` bytes in all (raised by
        the constructor when the index says so, by the iteration when a block does).
    """

    def __init__(self, blocks: list[Block], *, workers: int, max_size: int, what: str) -> None:
        if sum(size for _, size in blocks) > max_size:
            raise BadUpstream(f"{what} decompresses to more than {max_size} bytes")
        self.blocks = blocks
        self.what = what
        self.workers = max(1, workers)
        self.queues: list[queue.Queue[object]] = [queue.Queue() for _ in blocks]
        self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="xz-block")
        self.futures: list[Future[None]] = []
        for i in range(self.workers):
            self._start(i)

    def _start(self, i: int) -> None:
        if i < len(self.blocks):
            self.futures.append(
                self.pool.submit(_decode_block, self.blocks[i], self.queues[i], self.what)
            )

    def __iter__(self) -> Iterator[bytes]:
        try:
            for i in range(len(self.blocks)):
                self._start(i + self.workers)
                yield from _drain(self.queues[i])
        finally:
            self.close()

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True)
