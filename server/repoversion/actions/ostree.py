"""ostree exports (SPEC section 7): now (``ostree export``), or as a job for a worker
(``POST /api/v1/ostree/exports``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput

Progress = Callable[[str, int, int], None]


def plan_export(
    ctx: Context,
    *,
    version: str | None = None,
    packages: list[str] | None = None,
    lockfile: Any = None,
) -> list[Any]:
    """The debs an export asks for: ``packages`` of ``version``, or a lockfile's.

    :returns: :class:`~repoversion.ostree.export.DebRef` values.
    :raises InvalidInput: neither or both ways are given, or a request is malformed.
    :raises NotFound: the version or a package does not exist.
    """
    from repoversion.ostree import wanted

    if lockfile is not None:
        if version is not None or packages:
            raise InvalidInput("Give either a lockfile or a version and packages, not both.")
        return wanted.debs_of_lockfile(ctx, lockfile)
    if version is None:
        raise InvalidInput("Give a version and packages, or a lockfile.")
    return wanted.debs_of_packages(ctx, version, list(packages or []))


def export_result(exported: list[Any]) -> dict[str, Any]:
    """What ``ostree export --json`` prints and the job records."""
    new = sum(1 for e in exported if e.new)
    return {
        "exported": new,
        "skipped": len(exported) - new,
        "debs": [e.to_json() for e in exported],
    }


def export_debs(ctx: Context, debs: list[Any], progress: Progress | None = None) -> dict[str, Any]:
    """Export ``debs`` (:class:`~repoversion.ostree.export.DebRef`) now.

    :raises RepoversionError: a deb is hostile or cannot be fetched, or ostree failed.
    """
    from repoversion.ostree.export import export_debs as run

    return export_result(run(ctx, debs, progress))


def enqueue_export(
    ctx: Context,
    *,
    version: str | None = None,
    packages: list[str] | None = None,
    lockfile: Any = None,
) -> dict[str, Any]:
    """Queue an export job for what :func:`plan_export` finds; returns the job.

    :raises InvalidInput: as :func:`plan_export`.
    :raises NotFound: as :func:`plan_export`.
    """
    from repoversion.jobs import queue

    debs = plan_export(ctx, version=version, packages=packages, lockfile=lockfile)
    params = {"debs": [d.to_json() for d in debs]}
    with transaction(ctx.sessions) as s:
        return queue.job_json(queue.enqueue(s, "ostree_export", params, queue.wall_clock()))
