"""``/gc``: a garbage collection run by the worker (a job, admin only), and following it."""

from __future__ import annotations

from typing import Any

from flask import Response
from pydantic import Field, model_validator

from repoversion.actions.gc import enqueue_gc, get_gc_job
from repoversion.web.api.common import PREFIX, TOKEN, context, errors, needs, reply, resource
from repoversion.web.api.params import JobPath, Strict, Text
from repoversion.web.api.schemas import Job

bp = resource("gc", "Retention and garbage collection, run as jobs by the worker.")


class GcBody(Strict):
    """What `repoversion gc` takes; an empty or absent body frees unreferenced blobs
    older than the grace and drops no version."""

    keep: int | None = Field(None, ge=1, description="keep the newest N repoversions")
    keep_since: Text | None = Field(
        None, description="keep those created at or after: `2026-01-31` or an ISO instant"
    )
    grace: Text | None = Field(
        None, description="spare unreferenced blobs written within it: `1h` (default), `0`"
    )
    dry_run: bool = Field(False, description="report what would be dropped and freed")

    @model_validator(mode="before")
    @classmethod
    def absent_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data

    def params(self) -> dict[str, Any]:
        """The job's parameters."""
        return self.model_dump()


@bp.post("/gc", responses={202: Job, **errors(400)}, security=TOKEN)
@needs("admin")
def start_gc(body: GcBody) -> Response:
    """Queue a garbage collection for the worker.

    It drops the versions no rule keeps, then frees the blobs nothing needs (gc --json).
    """
    job = enqueue_gc(context(), body.params())
    return reply(job, 202, {"Location": f"{PREFIX}/gc/{job['id']}"})


@bp.get("/gc/<int:job_id>", responses={200: Job, **errors(404)})
def show_gc(path: JobPath) -> Response:
    """One gc job: its state, progress (blobs listed, bytes freed), and result or error."""
    return reply(get_gc_job(context(), path.job_id))
