"""``/syncs``: start a sync in the worker (a job), follow it, see the schedule."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import PREFIX, TOKEN, context, errors, needs, reply, resource
from repoversion.web.api.params import JobPath, SyncBody, SyncsQuery
from repoversion.web.api.schemas import Job, SyncList

bp = resource("syncs", "Syncs run as jobs by the worker.")


@bp.post("/syncs", responses={202: Job, **errors(400, 409)}, security=TOKEN)
@needs("write")
def start_sync(body: SyncBody) -> Response:
    """Queue a sync; 409 names the sync already queued or running."""
    job = actions.enqueue_sync(context(), body.params())
    return reply(job, 202, {"Location": f"{PREFIX}/syncs/{job['id']}"})


@bp.get("/syncs", responses={200: SyncList})
def list_syncs(query: SyncsQuery) -> Response:
    """Recent syncs, newest first, with the schedule's last and next runs."""
    return reply(actions.list_syncs(context(), limit=query.limit))


@bp.get("/syncs/<int:job_id>", responses={200: Job, **errors(404)})
def show_sync(path: JobPath) -> Response:
    """One sync: its state, progress, and result or error."""
    return reply(actions.get_job(context(), path.job_id))
