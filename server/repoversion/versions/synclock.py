"""One sync at a time per database, refused at once rather than queued.

A second sync would download and parse everything only to lose the race at commit
(:class:`~repoversion.versions.commit.Committer` refuses a stale base). So a sync takes
this lock before its first request and a second one is told, in one sentence, that a
sync is already running. The lock dies with its holder: on PostgreSQL it is a
session-level advisory lock on a connection the sync keeps open; on SQLite, whose
writers share one machine, an ``flock`` on a file beside the database.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from repoversion.db.session import sqlite_path
from repoversion.errors import Conflict

#: the advisory lock's key (the commit lock is 7215001)
SYNC_KEY = 7215002
RUNNING = "A sync is already running on this database; wait for it to finish."


@contextmanager
def sync_lock(engine: Engine) -> Iterator[None]:
    """Hold the sync lock of ``engine``'s database for the ``with`` block.

    :raises Conflict: another sync holds it.
    """
    if engine.dialect.name == "postgresql":
        with _advisory(engine):
            yield
        return
    path = sqlite_path(str(engine.url))
    if path is None:  # in-memory: one process only
        yield
        return
    with _flock(path.with_name(path.name + ".sync-lock")):
        yield


@contextmanager
def _advisory(engine: Engine) -> Iterator[None]:
    with engine.connect() as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": SYNC_KEY}).scalar()
        conn.commit()
        if not got:
            raise Conflict(RUNNING)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": SYNC_KEY})
            conn.commit()


@contextmanager
def _flock(path: os.PathLike[str]) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(RUNNING) from None
        yield
    finally:
        os.close(fd)  # releases the lock
