"""Syncing: now (``sync``), or as a job for a worker; sweeping killed writers' leftovers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.versions.changes import CommitResult

Progress = Callable[[str, int, int], None]


def sync(
    ctx: Context,
    bump: str | None = None,
    progress: Progress | None = None,
    *,
    allow_releaseinfo_change: tuple[str, ...] = (),
) -> CommitResult:
    """Sync every archive; commit a new version if anything changed.

    :param allow_releaseinfo_change: ``ARCHIVE/SUITE`` values whose changed Release
        Codename (or Suite and Codename naming another suite) this sync accepts.
    """
    from repoversion.mirror.sync import run_sync

    return run_sync(
        ctx, bump=bump, progress=progress, allow_releaseinfo_change=allow_releaseinfo_change
    )


def enqueue_sync(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Queue a sync for a worker (docs/jobs.md); returns the job.

    :param params: ``bump`` and ``allow_releaseinfo_change``, as ``sync`` takes them.
    :raises SyncQueued: a sync is queued or running (a Conflict naming it, ``job_id``).
    :raises InvalidInput: an unknown or bad parameter.
    """
    from repoversion.jobs import queue
    from repoversion.jobs.kinds import sync_params

    checked = sync_params(params)
    with transaction(ctx.sessions) as s:
        return queue.job_json(queue.enqueue(s, "sync", checked, queue.wall_clock()))


def get_job(ctx: Context, job_id: int) -> dict[str, Any]:
    """One job: state, progress, result or error. :raises NotFound: no such job."""
    from repoversion.jobs import queue

    with transaction(ctx.sessions) as s:
        return queue.job_json(queue.get_job(s, job_id))


def list_syncs(ctx: Context, limit: int = 20) -> dict[str, Any]:
    """The newest sync jobs and the schedule: ``{"items", "schedule": {"every", "last",
    "next"}}``."""
    from repoversion.jobs import queue

    with transaction(ctx.sessions) as s:
        return queue.syncs_json(s, limit, ctx.settings.sync_every, queue.wall_clock())


def sweep_leftovers(ctx: Context) -> int:
    """Remove what killed writers left in the blob store; returns how many."""
    return ctx.store.sweep_leftovers()
