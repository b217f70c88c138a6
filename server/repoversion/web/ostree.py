"""``/ostree/…``: the archive-mode ostree repository, read-only, as static files.

What a client of ``ostree remote add … http://HOST/ostree`` reads is served, nothing else
(:func:`repoversion.ostree.repo.served_file`). ``objects/`` and ``deltas/`` are named by
their content, so they are cacheable for ever; ``config``, ``summary``, ``summary.sig``
and ``refs/`` change with every export and are revalidated (``no-cache``). Anything else,
or a path that leaves the repository, is a 404 (``no-store``).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_file

from repoversion.context import Context
from repoversion.errors import NotFound
from repoversion.ostree.repo import served_file
from repoversion.web.files import IMMUTABLE, REVALIDATE

bp = Blueprint("ostree", __name__)


@bp.get("/ostree/<path:rel>", merge_slashes=False, strict_slashes=False)
def repo_file(rel: str) -> Response:
    """One file of the repository (GET and HEAD, with ``Range`` and validators)."""
    ctx: Context = current_app.extensions["repoversion"]
    found = served_file(ctx.settings.ostree_repo_path, rel)
    if found is None:
        raise NotFound(f"No such file in the ostree repository: {rel}.")
    path, immutable = found
    resp = send_file(path, mimetype="application/octet-stream", conditional=True, etag=True)
    resp.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
    return resp
