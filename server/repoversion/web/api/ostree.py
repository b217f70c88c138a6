"""``/ostree/exports``: commit debs to ostree in the worker (a job), and follow it."""

from __future__ import annotations

from typing import Any

from flask import Response
from pydantic import Field, model_validator

from repoversion.actions import ostree
from repoversion.actions.syncs import get_job
from repoversion.errors import NotFound
from repoversion.web.api.common import PREFIX, TOKEN, context, errors, needs, reply, resource
from repoversion.web.api.params import JobPath, Names, Strict, Text
from repoversion.web.api.schemas import Job, LockfileBody

bp = resource("ostree", "Debs committed to the ostree repository served at /ostree/.")


class ExportBody(Strict):
    """Packages of a repoversion, or a lockfile, to export (``ostree export``)."""

    version: Text | None = Field(None, description="a ref: `X.Y.Z`, a tag, a timestamp")
    packages: Names = Field(
        default_factory=list, description="`NAME`, `NAME:ARCH`, `NAME=VERSION` in `version`"
    )
    lockfile: LockfileBody | None = Field(None, description="a lockfile: all its packages")

    @model_validator(mode="after")
    def one_way(self) -> ExportBody:
        if (self.lockfile is None) == (self.version is None):
            raise ValueError("give either a version and packages or a lockfile")
        if self.version is not None and not self.packages:
            raise ValueError("name at least one package to export from the version")
        return self

    def params(self) -> dict[str, Any]:
        lock = self.lockfile.lockfile() if self.lockfile is not None else None
        return {"version": self.version, "packages": list(self.packages), "lockfile": lock}


@bp.post("/ostree/exports", responses={202: Job, **errors(400, 404)}, security=TOKEN)
@needs("write")
def start_export(body: ExportBody) -> Response:
    """Queue an export of each deb to `dpkg/data/<sha256>` and `dpkg/control/<sha256>`.

    The packages are looked up now (404 for one the version lacks); the worker fetches
    the debs that are not stored, commits them and updates the signed summary.
    """
    job = ostree.enqueue_export(context(), **body.params())
    return reply(job, 202, {"Location": f"{PREFIX}/ostree/exports/{job['id']}"})


@bp.get("/ostree/exports/<int:job_id>", responses={200: Job, **errors(404)})
def show_export(path: JobPath) -> Response:
    """One export job: its state, progress (debs), and result or error."""
    job = get_job(context(), path.job_id)
    if job["kind"] != "ostree_export":
        raise NotFound(f"No ostree export job {path.job_id}.")
    return reply(job)
