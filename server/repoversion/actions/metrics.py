"""``/metrics``: the text, with the gauges read from the shared database at scrape time.

What the database says (versions kept, the job queue, the blob store, the last good sync)
is the same for every node, so no process counts it: each scrape reads it, at most once
every :data:`GAUGE_TTL` seconds per process (a scrape of every worker of every node
costs the database a few aggregate queries, not one each).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repoversion import metrics
from repoversion.context import Context
from repoversion.db.models import Blob, Job
from repoversion.db.session import transaction
from repoversion.metrics import Gauge
from repoversion.timefmt import utc
from repoversion.versions.refs import count_kept

#: seconds a process reuses the database's gauges
GAUGE_TTL = 5.0


def database_gauges(session: Session, now: datetime) -> list[Gauge]:
    """Versions kept, jobs queued and running (by kind), the age of the oldest queued
    job, blobs recorded and their bytes, the end of the last successful sync.

    :param now: the wall clock, for ages.
    """
    from repoversion.jobs.kinds import RUNNERS
    from repoversion.jobs.queue import QUEUED, RUNNING, SUCCEEDED

    blobs, blob_bytes = session.execute(select(func.count(), func.sum(Blob.size))).one()
    gauges = [
        Gauge("repoversion_versions", "Kept (not dropped) repoversions.", count_kept(session)),
        Gauge("repoversion_blobs", "Blobs recorded in the store.", float(blobs or 0)),
        Gauge("repoversion_blob_bytes", "Bytes of the blobs recorded.", float(blob_bytes or 0)),
    ]
    by_state = dict.fromkeys([(s, k) for s in (QUEUED, RUNNING) for k in RUNNERS], 0)
    query = select(Job.state, Job.kind, func.count()).where(Job.state.in_([QUEUED, RUNNING]))
    for state, kind, n in session.execute(query.group_by(Job.state, Job.kind)):
        by_state[(state, kind)] = n
    for (state, kind), n in sorted(by_state.items()):
        doc = f"Jobs {state}, by kind."
        gauges.append(Gauge(f"repoversion_jobs_{state}", doc, n, {"kind": kind}))
    oldest = session.scalar(select(func.min(Job.created)).where(Job.state == QUEUED))
    age = max(0.0, (now - utc(oldest)).total_seconds()) if oldest is not None else 0.0
    doc = "Seconds the oldest queued job has waited (0: none queued)."
    gauges.append(Gauge("repoversion_jobs_oldest_queued_age_seconds", doc, age))
    last = session.scalar(
        select(func.max(Job.finished)).where(Job.kind == "sync", Job.state == SUCCEEDED)
    )
    doc = "When the last successful sync job ended, Unix time (0: never)."
    stamp = utc(last).timestamp() if last is not None else 0.0
    gauges.append(Gauge("repoversion_sync_last_success_timestamp_seconds", doc, stamp))
    return gauges


class Scrape:
    """What ``/metrics`` answers in one process: its counts (all of its server's
    processes under gunicorn) and the database's gauges, those cached briefly.

    :param ctx: the process's context.
    :param ttl: seconds the database's gauges are reused.
    """

    def __init__(self, ctx: Context, ttl: float = GAUGE_TTL) -> None:
        self.ctx = ctx
        self.ttl = ttl
        self._lock = threading.Lock()
        self._gauges: list[Gauge] = []
        self._read_at = float("-inf")

    def text(self) -> bytes:
        """The Prometheus text format (:data:`repoversion.metrics.CONTENT_TYPE`).

        :raises RepoversionError: the database cannot be read.
        """
        return metrics.exposition(self.gauges())

    def gauges(self) -> list[Gauge]:
        """The database's gauges, read again when older than ``ttl``."""
        from repoversion.jobs.queue import wall_clock

        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                with transaction(self.ctx.sessions) as session:
                    self._gauges = database_gauges(session, wall_clock())
                self._read_at = time.monotonic()
            return self._gauges
