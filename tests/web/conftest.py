"""The Flask app served in-process on a free loopback port, over a mirror home.

``serve(**env)`` starts ``create_app`` on ``127.0.0.1:<free port>`` in a thread (werkzeug's
threaded server), with ``public_url`` pointing at it and extra ``REPOVERSION_*`` settings
from ``env``; the server stops at the end of the test.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from repoversion.config import load_settings
from repoversion.serving.service import Serving
from repoversion.web import create_app
from repoversion.web.apt import EXTENSION
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import NOW, Mirror

mirror = mirror_conftest.mirror  # the fixture, shared with tests/mirror


@dataclass
class Server:
    """A running app: its base URL and a keep-alive HTTP session."""

    url: str
    app: Flask
    httpd: BaseWSGIServer
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def serving(self) -> Serving:
        serving: Serving = self.app.extensions[EXTENSION]
        return serving

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path`` (relative to the server), redirects not followed."""
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def head(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.head(self.url + path, timeout=30, **kwargs)

    def raw(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send ``path`` byte for byte (no client-side normalisation of ``..``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.httpd.server_port, timeout=30)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


@pytest.fixture
def serve(mirror: Mirror) -> Iterator[Callable[..., Server]]:
    """Factory: ``serve(**env)`` → a started :class:`Server` over ``mirror``'s home."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        holder: dict[str, Flask] = {}

        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            return holder["app"](environ, start_response)

        httpd = make_server("127.0.0.1", 0, wsgi, threaded=True)
        url = f"http://127.0.0.1:{httpd.server_port}"
        environ = {"REPOVERSION_NOW": NOW, "REPOVERSION_PUBLIC_URL": url, **env}
        app = create_app(load_settings(mirror.home, environ=environ))
        holder["app"] = app
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        server = Server(url, app, httpd)
        started.append(server)
        return server

    yield start
    for server in started:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.http.close()
        server.serving.close()
        server.app.extensions["repoversion"].close()


@pytest.fixture
def server_key(mirror: Mirror) -> str:
    """The server's binary public key, for ``signed-by=``."""
    return str(mirror.home / "keys" / "repoversion.gpg")
