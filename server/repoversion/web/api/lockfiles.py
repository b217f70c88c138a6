"""``/lockfiles``: stored lockfiles, each served as an apt repository of exactly its packages
at ``/l/<id>/<archive>/`` (:mod:`repoversion.serving.lockrepo`)."""

from __future__ import annotations

from flask import Response

from repoversion.actions import lockfiles
from repoversion.web.api.common import PREFIX, TOKEN, context, errors, needs, reply, resource
from repoversion.web.api.resolve import lockfile_reply
from repoversion.web.api.schemas import Lockfile, LockfileBody, LockfilePath, StoredLockfile

bp = resource("lockfiles", "Stored lockfiles, each an apt source of exactly its packages.")


@bp.post("/lockfiles", responses={201: StoredLockfile, **errors(400, 410)}, security=TOKEN)
@needs("write")
def store_lockfile(body: LockfileBody) -> Response:
    """Store a lockfile; `/l/<id>/<archive>/` then serves exactly its packages, signed.

    Every entry must be in its repoversion with its sha256 (422 otherwise). The same
    lockfile always gets the same id.
    """
    stored = lockfiles.store_lockfile(context(), body.lockfile())
    return reply(stored, 201, {"Location": f"{PREFIX}/lockfiles/{stored['id']}"})


@bp.get("/lockfiles/<id>", responses={200: Lockfile, **errors(404)})
def get_lockfile(path: LockfilePath) -> Response:
    """A stored lockfile, byte for byte."""
    return lockfile_reply(lockfiles.get_lockfile(context(), path.id))
