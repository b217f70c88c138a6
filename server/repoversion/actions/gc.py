"""Retention and garbage collection: now (``gc``), or as a job for a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import NotFound

Progress = Callable[[str, int, int], None]


def gc(
    ctx: Context,
    *,
    keep: int | None = None,
    keep_since: str | None = None,
    grace: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    waiting: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Drop the versions the policy does not keep, then free the blobs nothing needs
    (docs/operations.md); returns the ``gc --json`` object.

    :param keep: keep the newest ``keep`` versions.
    :param keep_since: keep the versions created at or after this date or instant.
    :param grace: spare unreferenced blobs written within it (``1h`` by default, ``0``).
    :param dry_run: report the same numbers, change nothing.
    :param waiting: called once if a sync holds the lock the collection needs.
    :raises InvalidInput: a bad ``keep``, date or duration.
    """
    from repoversion.retention.policy import Policy
    from repoversion.retention.run import collect

    policy = Policy.of(keep, keep_since, grace, dry_run)
    return collect(ctx, policy, progress, waiting).to_json()


def enqueue_gc(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Queue a garbage collection for a worker; returns the job.

    :param params: ``keep``, ``keep_since``, ``grace``, ``dry_run``, as ``gc`` takes them.
    :raises InvalidInput: an unknown or bad parameter.
    """
    from repoversion.jobs import queue
    from repoversion.jobs.retention import KIND
    from repoversion.retention.policy import Policy

    checked = Policy.from_params(params).to_params()
    with transaction(ctx.sessions) as s:
        return queue.job_json(queue.enqueue(s, KIND, checked, queue.wall_clock()))


def get_gc_job(ctx: Context, job_id: int) -> dict[str, Any]:
    """One gc job: state, progress, result or error.

    :raises NotFound: no gc job has that id.
    """
    from repoversion.jobs import queue
    from repoversion.jobs.retention import KIND

    with transaction(ctx.sessions) as s:
        job = queue.job_json(queue.get_job(s, job_id))
    if job["kind"] != KIND:
        raise NotFound(f"No gc job {job_id}.")
    return job
