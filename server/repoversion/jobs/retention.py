"""``gc`` jobs: a garbage collection run by a worker (``POST /api/v1/gc``).

A job's parameters are the policy's (:meth:`~repoversion.retention.policy.Policy.to_params`:
``keep``, ``keep_since``, ``grace``, ``dry_run``); its result is the ``gc --json`` object.
Its progress counts ``files``, the blobs listed so far, and ``bytes``, the bytes freed
so far.

>>> p = GcProgress(); p("listing blobs", 1000, 0); p("freed bytes", 5, 0); p.snapshot()
{'files': 1000, 'bytes': 5}
"""

from __future__ import annotations

from typing import Any

from repoversion.context import Context

KIND = "gc"


class GcProgress:
    """Blobs listed, bytes freed."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "listing blobs":
            self.files = done
        elif stage == "freed bytes":
            self.bytes = done

    def snapshot(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes}


def run_gc_job(ctx: Context, params: dict[str, Any], progress: GcProgress) -> dict[str, Any]:
    """Run the collection the parameters ask for.

    :raises InvalidInput: the parameters are bad (they were checked when queued).
    """
    from repoversion.retention.policy import Policy
    from repoversion.retention.run import collect

    return collect(ctx, Policy.from_params(params), progress).to_json()
