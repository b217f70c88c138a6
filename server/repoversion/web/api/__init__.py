"""The JSON API under ``/api/v1`` (SPEC section 5), described by ``/api/v1/openapi.json``.

One blueprint per resource (versions, resolve, packages, lockfiles, archives, syncs,
tags, tokens), nested in the ``api`` blueprint. Each view is thin: flask-openapi3
validates its path, query and body against the pydantic models its signature names
(:mod:`.params`), the view calls one function of :mod:`repoversion.actions` and returns
its value as JSON (a lockfile: its own bytes); the answers are
declared in :mod:`.schemas`. The OpenAPI document is built from those same declarations,
so it cannot drift from what is validated.

Before any validation, :func:`_authorize` checks the token a view needs: ``write`` or
``admin`` for the views marked with :func:`.common.needs`, any valid token for reads when
the ``private_reads`` setting is on, nothing otherwise. Errors, including validation
errors (422 naming the field) and unparsable bodies (400), are answered by
:mod:`repoversion.web.app`'s one handler as ``{code, message}``.
"""

from __future__ import annotations

import json

from flask import Response, current_app, request
from flask_openapi3 import APIBlueprint, Info, OpenAPI
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from repoversion import actions
from repoversion.web.api import (
    archives,
    gc,
    lockfiles,
    ostree,
    packages,
    resolve,
    syncs,
    tags,
    tokens,
    versions,
)
from repoversion.web.api.common import (
    BEARER,
    PREFIX,
    SCOPE_ATTR,
    context,
    invalid,
    needs,
    reply,
)
from repoversion.web.api.schemas import Error

#: the API's own version (``info.version`` of openapi.json), not the server's
API_VERSION = "1.0.0"
RESOURCES = (versions, resolve, packages, lockfiles, archives, syncs, tags, tokens, ostree, gc)
#: methods whose body is read
WITH_BODY = ("POST", "PUT", "PATCH")

bp = APIBlueprint("api", __name__, url_prefix=PREFIX)
for _resource in RESOURCES:
    bp.register_api(_resource.bp)


def new_app(import_name: str) -> OpenAPI:
    """A Flask app (flask-openapi3's subclass) that assembles openapi.json from the API's
    blueprints; everything else about it is plain Flask."""
    return OpenAPI(
        import_name,
        info=Info(
            title="repoversion",
            version=API_VERSION,
            description="Versioned apt repository snapshots: see docs/api.md.",
        ),
        security_schemes={BEARER: {"type": "http", "scheme": "bearer"}},
        doc_ui=False,
        validation_error_status=422,
        validation_error_model=Error,
        validation_error_callback=invalid,
    )


def register(app: OpenAPI) -> None:
    """Add the API's routes and their OpenAPI descriptions to ``app``."""
    app.register_api(bp)


@bp.get("/openapi.json", doc_ui=False)
@needs("public")
def openapi() -> Response:
    """The OpenAPI 3 document of this API (always public)."""
    assert isinstance(current_app, OpenAPI)
    return reply(current_app.api_doc)


@bp.before_request
def _authorize() -> None:
    """Check the token the view needs (see the module docstring)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.method == "OPTIONS":
        return  # no such route: 404 or 405 follows
    need = getattr(view, SCOPE_ATTR, None)
    if need is None and context().settings.private_reads:
        need = "read"
    if need not in (None, "public"):
        actions.authorize(context(), request.headers.get("Authorization"), need)
    _check_body()


def _check_body() -> None:
    """A body that is there must be JSON: 415 for another type, 400 when unparsable."""
    if request.method not in WITH_BODY:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    if not request.is_json:
        raise UnsupportedMediaType("The request body must be JSON (application/json).")
    try:
        json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
