"""``/keys/repoversion.asc|.gpg``, ``/blobs/sha256/<hex>`` and ``/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request
from flask.blueprints import BlueprintSetupState

from repoversion.actions.metrics import Scrape
from repoversion.metrics import CONTENT_TYPE, count_response
from repoversion.web.apt import get_serving, install
from repoversion.web.files import IMMUTABLE, NO_STORE, REVALIDATE, Caching, send_target

bp = Blueprint("misc", __name__)
#: the app extension holding this process's :class:`Scrape`
SCRAPE = "repoversion.metrics"


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
    """Prometheus text exposition: every process of this server, plus the database's
    gauges (docs/operations.md lists each metric)."""
    scrape = current_app.extensions.get(SCRAPE)
    if scrape is None:
        scrape = current_app.extensions.setdefault(SCRAPE, Scrape(get_serving().ctx))
    return Response(scrape.text(), 200, {"Content-Type": CONTENT_TYPE, "Cache-Control": NO_STORE})


@bp.after_app_request
def count(response: Response) -> Response:
    """Count every response by route (the URL rule, so ``/v/1.0.0/…`` and ``/v/2.0.0/…``
    are one series), method and status, and the body bytes sent."""
    sent = g.pop("rv_bytes", None)
    if sent is None and response.status_code in (200, 206) and request.method != "HEAD":
        sent = response.content_length or 0
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    count_response(route, request.method, response.status_code, sent or 0)
    return response
