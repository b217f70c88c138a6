"""What each kind of job does: its parameters, how it runs, what it reports.

A runner gets the worker's :class:`~repoversion.context.Context`, the job's parameters
and a :class:`Progress` to update; it returns the job's result (JSON) or raises. ``sync``
is here; ``ostree_export`` is in :mod:`.exports`.

A sync's progress counts what :func:`~repoversion.mirror.sync.run_sync` reports through its
``(stage, done, total)`` callback: ``files`` are index files read plus pool files
downloaded (``immediate`` archives), ``bytes`` the uncompressed index bytes read.

>>> p = SyncProgress()
>>> for call in [("debian/bookworm", 0, 1), ("debian/bookworm main/binary-amd64/Packages",
...               0, 900), ("debian/bookworm main/binary-amd64/Packages", 600, 900),
...              ("debian/bookworm main/binary-amd64/Packages", 900, 900),
...              ("debian pool", 1, 2), ("debian pool", 2, 2), ("commit", 1, 1)]:
...     p(*call)
>>> p.snapshot()
{'files': 3, 'bytes': 900}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from repoversion.context import Context
from repoversion.errors import InvalidInput
from repoversion.jobs import exports, retention
from repoversion.versions.numbering import BUMPS

log = logging.getLogger(__name__)


class JobProgress(Protocol):
    """What a runner updates and the worker's heartbeat writes (at most once a second)."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...

    def snapshot(self) -> dict[str, int]: ...


class SyncProgress:
    """``run_sync``'s progress callback, counted as files and bytes.

    Stages are told apart by their labels (``mirror/sync.py``, ``mirror/scopes.py``):
    ``ARCHIVE/SUITE`` and ``commit`` are steps, ``ARCHIVE pool`` counts pool files, and
    ``ARCHIVE/SUITE PATH`` counts the bytes of one index file.
    """

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0
        self._done: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "commit" or " " not in stage:
            return
        before = self._done.get(stage, 0)
        self._done[stage] = done
        grown = max(0, done - before)
        if stage.endswith(" pool"):
            self.files += grown
            return
        self.bytes += grown
        if done >= total > before:
            self.files += 1

    def snapshot(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


def sync_params(params: dict[str, Any]) -> dict[str, Any]:
    """Check a sync's parameters: ``bump`` and ``allow_releaseinfo_change``.

    :returns: them, complete, as stored in the job.
    :raises InvalidInput: an unknown or malformed parameter, named.
    """
    unknown = sorted(set(params) - {"bump", "allow_releaseinfo_change"})
    if unknown:
        raise InvalidInput(f"Unknown sync parameter {unknown[0]!r}.")
    bump = params.get("bump")
    if bump is not None and bump not in BUMPS:
        raise InvalidInput(f"bump must be one of {', '.join(BUMPS)}, got {bump!r}.")
    allowed = params.get("allow_releaseinfo_change") or []
    if not isinstance(allowed, list | tuple) or not all(
        isinstance(a, str) and a.count("/") == 1 for a in allowed
    ):
        raise InvalidInput("allow_releaseinfo_change must be a list of ARCHIVE/SUITE names.")
    return {"bump": bump, "allow_releaseinfo_change": list(allowed)}


def run_sync_job(ctx: Context, params: dict[str, Any], progress: SyncProgress) -> dict[str, Any]:
    """Run a sync; its result is the ``sync --json`` object.

    :raises RepoversionError: the sync failed (a sync already running, too: that job
        fails with its sentence rather than waiting).
    """
    from repoversion.metrics import timed_sync
    from repoversion.mirror.sync import run_sync

    checked = sync_params(params)
    with timed_sync() as outcome:  # repoversion_sync_duration_seconds
        result = run_sync(
            ctx,
            bump=checked["bump"],
            progress=progress,
            allow_releaseinfo_change=tuple(checked["allow_releaseinfo_change"]),
        )
        outcome["result"] = "new" if result.new else "unchanged"
    for warning in result.warnings:
        log.warning("%s", warning)
    return result.to_json()


Runner = Callable[[Context, dict[str, Any], Any], dict[str, Any]]

#: kind → (runner, its progress); a worker claims only jobs of these kinds
RUNNERS: dict[str, tuple[Runner, Callable[[], JobProgress]]] = {
    "sync": (run_sync_job, SyncProgress),
    exports.KIND: (exports.run_export_job, exports.ExportProgress),
    retention.KIND: (retention.run_gc_job, retention.GcProgress),
}
