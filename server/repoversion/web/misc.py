"""``/keys/repoversion.asc|.gpg``, ``/blobs/sha256/<hex>`` and ``/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response, g, request
from flask.blueprints import BlueprintSetupState

from repoversion.web.apt import get_serving, install
from repoversion.web.files import IMMUTABLE, NO_STORE, REVALIDATE, Caching, send_target

bp = Blueprint("misc", __name__)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    install(state.app)


@bp.get("/keys/<name>")
def key(name: str) -> Response:
    """The server's public key, armored (``.asc``) or binary (``.gpg``, for ``signed-by=``).

    Revalidated (``no-cache``): the key may be replaced.
    """
    serving = get_serving()
    target = serving.public_key(name)
    return send_target(request, serving.store, serving.settings, target, Caching(REVALIDATE))


@bp.get("/blobs/sha256/<digest>")
def blob(digest: str) -> Response:
    """Any stored blob by its SHA-256 (content addressed, so cacheable for ever)."""
    serving = get_serving()
    target = serving.blob(digest)
    return send_target(request, serving.store, serving.settings, target, Caching(IMMUTABLE))


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition, summed over this machine's worker processes."""
    serving = get_serving()
    text = serving.metrics.render({"repoversion_versions": serving.count_versions()})
    return Response(
        text,
        200,
        {"Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": NO_STORE},
    )


@bp.after_app_request
def count(response: Response) -> Response:
    """Count every response by status, and the file bytes sent."""
    m = get_serving().metrics
    m.inc("repoversion_http_requests_total", status=str(response.status_code))
    sent = g.pop("rv_bytes", None)
    if sent is None and response.status_code in (200, 206) and request.method != "HEAD":
        sent = response.content_length or 0
    if sent:
        m.inc("repoversion_http_response_bytes_total", sent)
    return response
