"""``/healthz``: liveness, with a database round trip."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    ctx = current_app.extensions["repoversion"]
    with ctx.sessions() as session:
        session.execute(text("SELECT 1"))
    resp = jsonify({"status": "ok"})
    resp.headers["Cache-Control"] = "no-store"
    return resp
