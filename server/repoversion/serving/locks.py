"""Exclusive locks shared by threads and processes of one machine: ``flock`` on a file.

``flock`` locks belong to an open file description, so two threads of one process that
each open the lock file exclude each other exactly as two processes do.

:func:`lock_until` never waits past a deadline and removes its file when done. Removing
a lock file is safe because whoever gets a lock checks that the file it locked is still
the one at that path (a waiter that locked a removed file opens the path again):

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "x.lock"
>>> with lock_until(path, lambda: 1.0):
...     path.exists()
True
>>> path.exists()
False
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) for the ``with`` block.

    :param path: the lock file; its directory is created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


class LockTimeout(Exception):
    """Someone else held the lock until the deadline."""


@contextlib.contextmanager
def lock_until(path: Path, left: Callable[[], float], poll: float = 0.05) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` block, then remove the file.

    The lock is polled (``LOCK_NB``), so a thread never blocks in ``flock`` past its
    deadline.

    :param path: the lock file; it and its directory are created.
    :param left: seconds left before giving up (asked at every attempt, so a deadline
        that is moved earlier counts).
    :param poll: seconds between two attempts.
    :raises LockTimeout: the lock was still held by another when no time was left.
    """
    fd = _acquire(path, left, poll)
    try:
        yield
    finally:
        # Removed while still held: whoever locks the old file next sees it is gone.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def _acquire(path: Path, left: Callable[[], float], poll: float) -> int:
    """An open descriptor of ``path`` holding its lock (see :func:`lock_until`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock_until(fd, left, poll)
        except BaseException:
            os.close(fd)
            raise
        if _is_at(fd, path):
            return fd
        os.close(fd)  # the holder removed the file we locked: lock the one there now


def _flock_until(fd: int, left: Callable[[], float], poll: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            seconds = left()
            if seconds <= 0:
                raise LockTimeout from None
            time.sleep(min(poll, seconds))


def _is_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file named ``path``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
