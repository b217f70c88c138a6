"""What apt points at: ``/v/<ref>/index.json``, ``/v/<ref>/packages.json`` and
``/v/<ref>/<archive>/{dists,pool}/…`` (SPEC section 3).

Views validate, ask :class:`~repoversion.serving.service.Serving` what the URL means, and
hand the blob to :func:`~repoversion.web.files.send_target`. Under a literal ``X.Y.Z``
every 200 is cacheable for ever; under a tag, ``latest`` or a timestamp it must be
revalidated (``no-cache``); errors are ``no-store`` (see :mod:`repoversion.web.app`).

A file fetched through from upstream is waited for on a downloader thread
(:mod:`repoversion.serving.fetch`); the request gives its place up as soon as its client
closes the connection, which apt 2.6 does after 30 s without a byte.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App

from repoversion.serving.lookup import clean_path
from repoversion.serving.service import Serving
from repoversion.web.files import IMMUTABLE, REVALIDATE, Caching, send_target

bp = Blueprint("apt", __name__)

EXTENSION = "repoversion.serving"


def install(app: Flask | App) -> Serving:
    """The app's :class:`Serving`, created on first call.

    :param app: the Flask app, whose ``extensions["repoversion"]`` is the Context.
    """
    serving = app.extensions.get(EXTENSION)
    if serving is None:
        serving = Serving(app.extensions["repoversion"])
        app.extensions[EXTENSION] = serving
    return serving


def get_serving() -> Serving:
    """The current app's :class:`Serving`."""
    serving: Serving = current_app.extensions[EXTENSION]
    return serving


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    install(state.app)


@bp.get("/v/<ref>/<path:rest>", merge_slashes=False, strict_slashes=False)
def versioned(ref: str, rest: str) -> Response:
    """Any file of a version: its metadata, or an archive's ``dists/`` and ``pool/``."""
    serving = get_serving()
    rest = clean_path(rest)
    resolved = serving.resolve(ref)
    caching = Caching(IMMUTABLE if resolved.immutable else REVALIDATE, resolved.release_date)
    if rest == "index.json":
        target = serving.index_json(resolved)
    elif rest == "packages.json":
        target = serving.packages_json(resolved)
    else:
        archive, _, sub = rest.partition("/")
        target = serving.target(resolved, archive, sub)
    return send_target(
        request,
        serving.store,
        serving.settings,
        target,
        caching,
        ensure=lambda: serving.ensure(resolved, target, client_gone(request.environ)),
    )


def client_gone(environ: dict[str, Any]) -> Callable[[], bool]:
    """A check of whether the client of this request has closed its connection.

    The socket turns readable at end of stream; a peek then reads nothing (a pipelined
    request would be data, and means the client is still there).

    :param environ: the WSGI environ (gunicorn and werkzeug put the client socket in it).
    """
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return lambda: False

    def gone() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except ValueError:  # TLS sockets take no flags: cannot tell, so still there
            return False
        except OSError:  # reset by the client
            return True

    return gone
