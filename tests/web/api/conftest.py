"""The API over a home that mirrors a fixture archive: a Flask test client and tokens.

``make_api(db_url=None, **settings)`` builds a home (SQLite, or the database ``db_url``
names), adds and syncs a fixture archive through the CLI, creates a ``write`` and an
``admin`` token, and returns an :class:`Api` over ``create_app``. ``api`` is one on
SQLite; ``api_db`` runs a test on SQLite and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from repoversion.config import load_settings
from repoversion.web import create_app
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import NOW, Mirror

#: what the fixture archive holds at first (version 1.0.0)
PACKAGES = [
    Pkg("hello", "1.0"),
    Pkg("world", "1.0"),
    Pkg("libfoo", "2.1"),
    Pkg("zsh", "5.9", architecture="all"),
    Pkg("apt", "2.6.1"),
]


@dataclass
class Api:
    """A test client over the app, the mirror behind it and tokens of each scope."""

    app: Flask
    client: FlaskClient
    mirror: Mirror
    archive: FixtureArchive
    write: str
    admin: str

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        """``method`` ``/api/v1`` + ``path``, with ``Authorization: Bearer token`` if given."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, token, **kwargs)

    def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """The JSON of a 2xx answer (fails the test otherwise)."""
        resp = self.call(method, path, token, **kwargs)
        assert 200 <= resp.status_code < 300, (resp.status_code, resp.get_data(as_text=True))
        return resp.get_json()

    def error(
        self, method: str, path: str, status: int, token: str | None = None, **kwargs: Any
    ) -> str:
        """The message of an error answer with ``status``; checks the ``{code, message}``."""
        resp = self.call(method, path, token, **kwargs)
        assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
        body = resp.get_json()
        assert set(body) == {"code", "message"}, body
        assert "Traceback" not in body["message"]
        assert resp.headers["Cache-Control"] == "no-store"
        return str(body["message"])

    def republish(self, *add: Pkg, remove: tuple[str, ...] = ()) -> dict[str, Any]:
        """Change the fixture archive and sync it; returns the ``sync --json`` object."""
        for pkg in add:
            self.archive.add(pkg)
        for name in remove:
            self.archive.remove(name)
        self.archive.publish()
        return self.mirror.sync()


def _token(mirror: Mirror, name: str, scope: str) -> str:
    result = mirror.cli("token", "create", name, "--scope", scope, "--json")
    assert result.code == 0, result.stderr
    return str(json.loads(result.stdout)["token"])


@pytest.fixture
def make_api(
    tmp_path: Path, run_cli: Callable[..., Any], fixture_archive: Callable[..., FixtureArchive]
) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(db_url: str | None = None, **settings: str) -> Api:
        env = {"REPOVERSION_NOW": NOW}
        if db_url is not None:
            env["REPOVERSION_DATABASE_URL"] = db_url
        home = tmp_path / f"home{len(made)}"
        result = run_cli("--home", str(home), "init", env=env)
        assert result.code == 0, result.stderr
        mirror = Mirror(home, run_cli, env)
        archive = fixture_archive(PACKAGES)
        mirror.add(archive)
        assert mirror.sync()["repoversion"] == "1.0.0"
        write, admin = _token(mirror, "ci", "write"), _token(mirror, "root", "admin")
        app = create_app(load_settings(home, environ={**env, **settings}))
        api = Api(app, app.test_client(), mirror, archive, write, admin)
        made.append(api)
        return api

    yield make
    for api in made:
        api.app.extensions["repoversion"].close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """The API on SQLite."""
    return make_api()


@pytest.fixture
def api_db(make_api: Callable[..., Api], db_url: str) -> Api:
    """The API on SQLite, then on PostgreSQL."""
    return make_api(db_url)
