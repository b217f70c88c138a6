"""``/l/<id>/<archive>/{dists,pool}/…``: a stored lockfile as a signed apt repository holding
exactly its packages (:mod:`repoversion.serving.lockrepo`).

Every byte under ``/l/<id>/`` is fixed once the lockfile is stored (its id is the digest of
its content, its generated files are shared by every node), so every 200 is cacheable for
ever, as under ``/v/X.Y.Z/``. Pool files are fetched through from upstream on first request
exactly as there.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App

from repoversion.serving.lockrepo import LockRepos
from repoversion.serving.lookup import clean_path
from repoversion.web.apt import client_gone, get_serving, install
from repoversion.web.files import IMMUTABLE, Caching, send_target

bp = Blueprint("lockrepo", __name__)

EXTENSION = "repoversion.lockrepo"


def _install(app: Flask | App) -> LockRepos:
    repos = app.extensions.get(EXTENSION)
    if repos is None:
        repos = LockRepos(install(app))
        app.extensions[EXTENSION] = repos
    return repos


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    _install(state.app)


@bp.get("/l/<lock_id>/<path:rest>", merge_slashes=False, strict_slashes=False)
def locked(lock_id: str, rest: str) -> Response:
    """A file of the lockfile's repository: ``dists/…`` generated, ``pool/…`` from storage."""
    serving = get_serving()
    repos: LockRepos = current_app.extensions[EXTENSION]
    archive, _, sub = clean_path(rest).partition("/")
    resolved, target = repos.target(lock_id, archive, sub)
    return send_target(
        request,
        serving.store,
        serving.settings,
        target,
        Caching(IMMUTABLE, resolved.release_date),
        ensure=lambda: serving.ensure(resolved, target, client_gone(request.environ)),
    )
