"""The queue's operations on the ``job`` table, each inside the caller's transaction.

Times are the machine's real clock (:func:`wall_clock`), not the ``now`` setting: that one
fixes the instant Release files are checked against, while leases and schedules must
advance. Nodes sharing a queue need clocks in step to well within ``job_lease``.

>>> job_json(Job(id=7, kind="sync", state="queued", created=datetime(2026, 12, 5, 9, 30)))
... # doctest: +NORMALIZE_WHITESPACE
{'id': 7, 'kind': 'sync', 'state': 'queued', 'progress': None, 'result': None,
 'error': None, 'created': '2026-12-05T09:30:00Z', 'started': None, 'finished': None}
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from repoversion.config import parse_duration
from repoversion.db.models import Job
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.timefmt import iso, utc

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
#: kinds of which at most one job may be queued or running
SINGLE = frozenset({"sync"})
#: a job taken this many times without finishing (its workers died) is given up
MAX_ATTEMPTS = 3
#: a released job waits this long, so its old worker is surely gone (and with it the sync
#: lock it held) before another takes it
RELEASE_GRACE = timedelta(seconds=2)
#: the PostgreSQL advisory lock serialising enqueues (the commit lock is 7215001, the
#: sync lock 7215002)
ENQUEUE_KEY = 7215003
GAVE_UP = "Its worker stopped {n} times before finishing it, so it was given up."


def wall_clock() -> datetime:
    """The real time, in UTC, for leases, schedules and job times."""
    return datetime.now(UTC)


class SyncQueued(Conflict):
    """A sync is queued or running already: at most one at a time.

    :param job_id: that job's id (also in the message).
    :param state: ``queued`` or ``running``.
    """

    def __init__(self, job_id: int, state: str) -> None:
        super().__init__(f"Sync job {job_id} is already {state}; wait for it to finish.")
        self.job_id = job_id


@dataclass(frozen=True)
class Claimed:
    """A job a worker has just taken."""

    id: int
    kind: str
    params: dict[str, Any]
    attempts: int


def job_json(job: Job) -> dict[str, Any]:
    """The job as the API and ``--json`` show it."""
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "created": iso(job.created),
        "started": iso(job.started) if job.started else None,
        "finished": iso(job.finished) if job.finished else None,
    }


def _lock_queue(session: Session) -> None:
    """Serialise enqueues: PostgreSQL advisory lock; SQLite takes its write lock now."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ENQUEUE_KEY)))
    else:
        session.execute(update(Job).where(Job.id == -1).values(state=QUEUED))


def _check_single(session: Session, kind: str) -> None:
    """Take the enqueue lock, then refuse a second active job of a :data:`SINGLE` kind.

    :raises SyncQueued: one is queued or running.
    """
    _lock_queue(session)
    if kind not in SINGLE:
        return
    active = session.execute(
        select(Job.id, Job.state)
        .where(Job.kind == kind, Job.state.in_(ACTIVE))
        .order_by(Job.id)
        .limit(1)
    ).first()
    if active is not None:
        raise SyncQueued(active.id, active.state)


def _insert(session: Session, kind: str, params: dict[str, Any], at: datetime) -> Job:
    job = Job(kind=kind, state=QUEUED, params=params, created=at, attempts=0)
    session.add(job)
    session.flush()
    return job


def enqueue(session: Session, kind: str, params: dict[str, Any], at: datetime) -> Job:
    """Queue a job of ``kind``, created ``at``.

    :raises SyncQueued: ``kind`` allows one job at a time and one is queued or running.
    """
    _check_single(session, kind)
    return _insert(session, kind, params, at)


def enqueue_if_due(
    session: Session, kind: str, params: dict[str, Any], at: datetime, period: timedelta
) -> Job | None:
    """Queue a job of ``kind`` if the last one started more than ``period`` ago (or none
    ever did): the schedule. Checked under the same lock as the insert.

    :returns: the new job, or None when it is not due yet.
    :raises SyncQueued: one is queued or running.
    """
    _check_single(session, kind)
    last = last_started(session, kind)
    if last is not None and last + period > at:
        return None
    return _insert(session, kind, params, at)


def _claimable(at: datetime) -> ColumnElement[bool]:
    """Queued (and not just released), or running with a lease that has passed."""
    return and_(
        Job.state.in_(ACTIVE),
        or_(Job.lease_until.is_(None), Job.lease_until < at),
    )


def claim(
    session: Session, worker: str, at: datetime, lease: timedelta, kinds: Collection[str]
) -> Claimed | None:
    """Take the oldest claimable job of one of ``kinds`` for ``worker``, or None.

    A running job whose lease passed ``MAX_ATTEMPTS`` times is failed instead, and the
    next one is looked at.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    for _ in range(16):  # SQLite: another worker may win each row; give up quietly
        stmt = (
            select(Job.id, Job.kind, Job.params, Job.attempts)
            .where(_claimable(at), Job.kind.in_(list(kinds)))
            .order_by(Job.id)
            .limit(1)
        )
        if postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        row = session.execute(stmt).first()
        if row is None:
            return None
        if row.attempts >= MAX_ATTEMPTS:
            error = GAVE_UP.format(n=row.attempts)
            _take(session, row.id, at, state=FAILED, error=error, finished=at, lease_until=None)
            continue
        taken = _take(
            session,
            row.id,
            at,
            state=RUNNING,
            worker=worker,
            started=at,
            lease_until=at + lease,
            attempts=row.attempts + 1,
            progress=None,
        )
        if taken:
            return Claimed(row.id, row.kind, dict(row.params or {}), row.attempts + 1)
    return None


def _take(session: Session, job_id: int, at: datetime, **values: Any) -> bool:
    """Update job ``job_id`` if it is still claimable (SQLite's race is decided here)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, _claimable(at))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _mine(session: Session, job_id: int, holder: str, **values: Any) -> bool:
    """Update job ``job_id`` if ``holder`` still holds it; False once another took it."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker == holder, Job.state == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def heartbeat(
    session: Session,
    job_id: int,
    worker: str,
    at: datetime,
    lease: timedelta,
    progress: dict[str, int] | None,
) -> bool:
    """Renew ``worker``'s lease on the job and record its progress.

    :returns: False when the job is no longer this worker's.
    """
    extra = {"progress": progress} if progress is not None else {}
    return _mine(session, job_id, worker, lease_until=at + lease, **extra)


def finish(
    session: Session,
    job_id: int,
    worker: str,
    at: datetime,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    progress: dict[str, int] | None = None,
) -> bool:
    """Record the end of the job: ``result`` (succeeded) or ``error`` (failed).

    :returns: False when the job is no longer this worker's (nothing is written).
    """
    return _mine(
        session,
        job_id,
        worker,
        state=FAILED if error is not None else SUCCEEDED,
        result=result,
        error=error,
        progress=progress,
        finished=at,
        lease_until=None,
    )


def release(session: Session, job_id: int, worker: str, at: datetime) -> bool:
    """Give the job back to the queue (a worker told to stop); it does not count as an
    attempt, and waits :data:`RELEASE_GRACE` before another worker takes it."""
    return _mine(
        session,
        job_id,
        worker,
        state=QUEUED,
        worker=None,
        started=None,
        progress=None,
        lease_until=at + RELEASE_GRACE,
        attempts=Job.attempts - 1,
    )


def get_job(session: Session, job_id: int) -> Job:
    """:raises NotFound: no job has that id."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def list_jobs(session: Session, kind: str, limit: int) -> list[Job]:
    """The newest ``limit`` jobs of ``kind``, newest first.

    :raises InvalidInput: ``limit`` is not between 1 and 100.
    """
    if not 1 <= limit <= 100:
        raise InvalidInput(f"limit must be between 1 and 100, got {limit}.")
    return list(
        session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc()).limit(limit))
    )


def last_started(session: Session, kind: str) -> datetime | None:
    """When the most recently started job of ``kind`` started."""
    value = session.scalar(select(func.max(Job.started)).where(Job.kind == kind))
    return utc(value) if value is not None else None


def due(session: Session, kind: str, period: timedelta, at: datetime) -> bool:
    """Whether the schedule wants a job of ``kind`` now: none is queued or running, and
    none started within ``period`` (read without the lock; :func:`enqueue` checks again)."""
    active = session.scalar(select(Job.id).where(Job.kind == kind, Job.state.in_(ACTIVE)))
    last = last_started(session, kind)
    return active is None and (last is None or last + period <= at)


def syncs_json(session: Session, limit: int, every: str | None, at: datetime) -> dict[str, Any]:
    """``{"items": [the newest sync jobs], "schedule": {"every", "last", "next"}}``.

    :param every: the ``sync_every`` setting.
    :raises InvalidInput: ``limit`` is not between 1 and 100.
    """
    items = [job_json(job) for job in list_jobs(session, "sync", limit)]
    return {"items": items, "schedule": _schedule_json(session, "sync", every, at)}


def _schedule_json(session: Session, kind: str, every: str | None, at: datetime) -> dict[str, Any]:
    """The schedule's setting, the last start of a job of ``kind`` and when a worker will
    queue the next (``at`` when it is due already)."""
    period = parse_duration(every) if every else None
    last = last_started(session, kind)
    upcoming: datetime | None = None
    if period is not None:
        upcoming = at if last is None else max(last + period, at)
    return {
        "every": every,
        "last": iso(last) if last else None,
        "next": iso(upcoming) if upcoming else None,
    }
