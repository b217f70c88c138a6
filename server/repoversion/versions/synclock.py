"""One sync at a time per database, refused at once rather than queued; a garbage
collection holds the same lock while it decides and frees, and a sync waits for it.

A second sync would download and parse everything only to lose the race at commit
(:class:`~repoversion.versions.commit.Committer` refuses a stale base). So a sync takes
this lock before its first request and a second one is told, in one sentence, that a
sync is already running. The lock dies with its holder: on PostgreSQL it is a
session-level advisory lock on a connection the holder keeps open; on SQLite, whose
writers share one machine, an ``flock`` on a file beside the database.

A garbage collection (:func:`gc_lock`) must not decide what is garbage while a sync has
stored blobs it has not committed rows for, nor while a sync skips storing a blob because
it is there already: it takes the sync lock too, waiting for a running sync to finish.
Before it waits it raises a second lock, the *gc mark*, and it lowers the mark only after
it has let the sync lock go; so a sync that finds the sync lock taken while the mark is up
knows a collection holds it or is about to, and waits instead of being refused.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from time import sleep

from sqlalchemy import Connection, Engine, text

from repoversion.db.session import sqlite_path
from repoversion.errors import Conflict

log = logging.getLogger(__name__)

#: the advisory lock's key (the commit lock is 7215001, the enqueue lock 7215003)
SYNC_KEY = 7215002
#: the gc mark's advisory lock key
GC_KEY = 7215004
RUNNING = "A sync is already running on this database; wait for it to finish."
#: what a sync says (a warning: a command line without logging set up prints it) when a
#: garbage collection makes it wait
WAITING = "A garbage collection holds the sync lock; the sync waits for it to finish."
#: seconds between two tries of a lock being waited for
POLL = 0.2


class _Locks:
    """Try-locks by name (``sync``, ``gc``) on one database, held until :meth:`close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None
        self.fds: dict[str, int] = {}
        self.held: list[str] = []
        self.path = sqlite_path(str(engine.url))

    def take(self, name: str) -> bool:
        """Take lock ``name`` if it is free; True when taken (or when there is no lock to
        take: an in-memory SQLite database belongs to one process)."""
        if self.engine.dialect.name == "postgresql":
            if self.conn is None:
                self.conn = self.engine.connect()
            key = SYNC_KEY if name == "sync" else GC_KEY
            got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            self.conn.commit()
        elif self.path is None:
            got = True
        else:
            fd = os.open(_lock_file(self.path, name), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self.fds[name] = fd
            got = True
        if got:
            self.held.append(name)
        return bool(got)

    def release(self, name: str) -> None:
        self.held.remove(name)
        if self.conn is not None:
            key = SYNC_KEY if name == "sync" else GC_KEY
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            self.conn.commit()
        fd = self.fds.pop(name, None)
        if fd is not None:
            os.close(fd)  # releases the flock

    def close(self) -> None:
        """Release every lock held, the last taken first."""
        try:
            for name in reversed(list(self.held)):
                self.release(name)
        except Exception:
            if self.conn is not None:
                self.conn.invalidate()  # never back to the pool with a lock on it
            raise
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


def _lock_file(db: Path, name: str) -> Path:
    return db.with_name(f"{db.name}.{name}-lock")


def _gc_marked(engine: Engine) -> bool:
    """Whether a garbage collection holds the gc mark now."""
    probe = _Locks(engine)
    try:
        if probe.take("gc"):
            probe.release("gc")
            return False
        return True
    finally:
        probe.close()


@contextmanager
def sync_lock(engine: Engine) -> Iterator[None]:
    """Hold the sync lock of ``engine``'s database for the ``with`` block; while a garbage
    collection holds it, wait for it to finish.

    :raises Conflict: another sync holds it.
    """
    locks = _Locks(engine)
    try:
        waited = False
        while not locks.take("sync"):
            if not _gc_marked(engine):
                # the mark is lowered after the lock: a collection may have just left
                if locks.take("sync"):
                    break
                raise Conflict(RUNNING)
            if not waited:
                log.warning(WAITING)
                waited = True
            sleep(POLL)
        yield
    finally:
        locks.close()


@contextmanager
def gc_lock(engine: Engine, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the sync lock for a garbage collection: raise the gc mark, then wait for a
    running sync (or collection) to finish and take the sync lock.

    :param waiting: called once if the lock is not free at once.
    """
    locks = _Locks(engine)
    with ExitStack() as stack:
        stack.callback(locks.close)  # the sync lock goes first, then the mark
        told = False
        for name in ("gc", "sync"):
            while not locks.take(name):
                if not told and waiting is not None:
                    waiting()
                told = True
                sleep(POLL)
        yield
