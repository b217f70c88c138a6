"""``/versions/<ref>/resolve``: a lockfile, resolved by apt's own solver against a version.

A read (public unless reads are private), though a POST: the request is a body. The
answer is the lockfile's own bytes, as ``repoversion lock`` writes them (canonical JSON
and a final newline), so the same request against the same version is the same bytes.
"""

from __future__ import annotations

from flask import Response

from repoversion.actions import lockfiles
from repoversion.web.api.common import context, errors, resource
from repoversion.web.api.params import RefPath
from repoversion.web.api.schemas import Lockfile, ResolveBody

bp = resource("resolve", "Lockfiles: packages resolved by apt's own solver against a version.")


def lockfile_reply(data: bytes, status: int = 200) -> Response:
    """A lockfile's bytes as they are (never re-encoded), as JSON that is not cached."""
    return Response(
        data, status=status, mimetype="application/json", headers={"Cache-Control": "no-store"}
    )


@bp.post("/versions/<ref>/resolve", responses={200: Lockfile, **errors(400, 404, 410)})
def resolve(path: RefPath, body: ResolveBody) -> Response:
    """Resolve packages as `apt-get install` does on an empty system pointed at the version.

    422 with apt's reason when it cannot install them (an unknown package, a conflict…) or
    the version serves no Packages for the architecture.
    """
    data = lockfiles.lock_packages(
        context(), path.ref, body.architecture, body.packages, recommends=body.recommends
    )
    return lockfile_reply(data)
