"""``create_app(settings)``: blueprints plus one error handler turning errors into JSON.

A 5xx body never carries internals: it says "Internal error", except for an upstream that
misbehaved (502) or was too slow (504: a fetch-through passed its deadline) and for what
may pass if the client tries again (503: the database is busy or out of reach, too many
requests wait for upstream), which say so, with ``Retry-After``. A 401 (the JSON API's
missing or bad token) carries ``WWW-Authenticate: Bearer``.

The app is flask-openapi3's ``OpenAPI``, a ``Flask`` subclass that assembles
``/api/v1/openapi.json`` from the API's declarations (:mod:`repoversion.web.api`).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from repoversion.config import Settings
from repoversion.context import Context
from repoversion.errors import RepoversionError, Unauthorized, Unavailable, from_exception

log = logging.getLogger(__name__)


def _error(code: str, message: str, status: int) -> Response:
    resp = jsonify({"code": code, "message": message})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _domain(exc: RepoversionError) -> Response:
    """The response for a domain error (see the module docstring)."""
    if isinstance(exc, Unavailable):
        log.warning("%s: %s", exc.code, exc.message)
        resp = _error(exc.code, exc.public, exc.status)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
        if exc.status not in (502, 504):
            return _error(exc.code, "Internal error; see the server log.", exc.status)
    resp = _error(exc.code, exc.message, exc.status)
    if isinstance(exc, Unauthorized):
        resp.headers["WWW-Authenticate"] = 'Bearer realm="repoversion"'  # RFC 6750
    return resp


def create_app(settings: Settings, context: Context | None = None) -> Flask:
    """Build the WSGI app for ``settings``."""
    from repoversion.web import api, apt, health, lockrepo, misc, ostree

    # a Flask app that also assembles /api/v1/openapi.json from the API's declarations
    app = api.new_app("repoversion")
    ctx = context or Context(settings)
    app.extensions["repoversion"] = ctx

    app.register_blueprint(health.bp)
    app.register_blueprint(apt.bp)
    app.register_blueprint(lockrepo.bp)
    app.register_blueprint(misc.bp)
    app.register_blueprint(ostree.bp)
    api.register(app)

    @app.errorhandler(RepoversionError)
    def domain_error(exc: RepoversionError) -> Response:
        # a StorageError caused by a full disk becomes DiskFull
        return _domain(from_exception(exc) or exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return _error(code, exc.description or exc.name, status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        known = from_exception(exc)  # a locked or unreachable database, a full disk
        if known is not None:
            return _domain(known)
        log.exception("unhandled error")
        return _error("internal", "Internal error; see the server log.", 500)

    return app
