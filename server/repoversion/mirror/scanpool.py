"""Scanning several large index files at once, one per core.

A first sync of a suite with two architectures and Sources reads three indices of 30 to
40 MB each; parsing is Python work that holds the GIL, so threads would not help. The
indices after the largest go to worker processes (started by a fork server, so they
never inherit the sync's threads, database connections or open files) while this
process scans the largest; each worker returns its index's :class:`~.scan.Scan`, merged
in index order, so the result is the one a sequential scan gives.

Small or single indices (every re-sync of a lightly changed archive) are not worth a
process: :func:`worth_it` says when they are.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from repoversion.mirror.parse import iter_stanzas
from repoversion.mirror.scan import Scan, scan_pieces

#: below this many uncompressed bytes in all the indices to read, one process reads them
PARALLEL_MIN_BYTES = 48 << 20


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def worth_it(sizes: list[int]) -> bool:
    """Whether indices of these uncompressed sizes are read faster by several processes.

    >>> worth_it([40 << 20, 40 << 20]) == (cores() > 1)
    True
    >>> worth_it([40 << 20]), worth_it([1 << 20, 1 << 20])
    (False, False)
    """
    return len(sizes) > 1 and sum(sizes) >= PARALLEL_MIN_BYTES and cores() > 1


@dataclass(frozen=True)
class IndexJob:
    """One index to scan in a worker: its verified (compressed) bytes and what the base
    version already has (``old_keys``)."""

    data: bytes
    compression: str
    kind: str
    what: str
    max_size: int
    expected_size: int | None
    old_keys: frozenset[int | None]


def scan_index(job: IndexJob) -> Scan:
    """Scan one index (in a worker process)."""
    was_enabled = gc.isenabled()
    gc.disable()  # as the sync does: many young objects, no cycles
    try:
        scan = Scan()
        pieces = iter_stanzas(
            job.data,
            job.compression,
            max_size=job.max_size,
            what=job.what,
            expected_size=job.expected_size,
        )
        scan_pieces(pieces, job.kind, job.what, job.old_keys, scan)
        return scan
    finally:
        if was_enabled:
            gc.enable()


class ScanPool:
    """Worker processes for one sync, started on first use; :meth:`close` ends them."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, job: IndexJob) -> Future[Scan]:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            self._pool = ProcessPoolExecutor(cores(), mp_context=context)
        return self._pool.submit(scan_index, job)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
