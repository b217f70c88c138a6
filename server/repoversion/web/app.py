"""``create_app(settings)``: blueprints plus one error handler turning errors into JSON."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from repoversion.config import Settings
from repoversion.context import Context
from repoversion.errors import RepoversionError

log = logging.getLogger(__name__)


def _error(code: str, message: str, status: int) -> Response:
    resp = jsonify({"code": code, "message": message})
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def create_app(settings: Settings, context: Context | None = None) -> Flask:
    """Build the WSGI app for ``settings``."""
    app = Flask("repoversion")
    ctx = context or Context(settings)
    app.extensions["repoversion"] = ctx

    from repoversion.web import apt, health, misc

    app.register_blueprint(health.bp)
    app.register_blueprint(apt.bp)
    app.register_blueprint(misc.bp)

    @app.errorhandler(RepoversionError)
    def domain_error(exc: RepoversionError) -> Response:
        if exc.status >= 500:
            log.error("%s: %s", exc.code, exc.message)
            if exc.status != 502:
                return _error(exc.code, "Internal error; see the server log.", exc.status)
        return _error(exc.code, exc.message, exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return _error(code, exc.description or exc.name, status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error("internal", "Internal error; see the server log.", 500)

    return app
