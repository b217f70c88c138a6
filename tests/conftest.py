"""Shared fixtures: homes, databases (SQLite and the local PostgreSQL), an in-process CLI."""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytest_plugins = [
    "tests.fixtures.s3",
    "tests.fixtures.gpg",
    "tests.fixtures.archives",
    "tests.fixtures.apt",
    "tests.fixtures.corpus",
]

PG_ADMIN_URL = os.environ.get(
    "REPOVERSION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No REPOVERSION_* setting from the caller's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("REPOVERSION_"):
            monkeypatch.delenv(key)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on 127.0.0.1, dropped afterwards."""
    name = f"rv_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``repoversion ARGS`` in-process; returns exit code, stdout and stderr."""
    from repoversion.cli import main

    def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
        with monkeypatch.context() as mp:
            for key, value in (env or {}).items():
                mp.setenv(key, value)
            out, err = io.StringIO(), io.StringIO()
            code = 0
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(list(args))
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else 1
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def home(tmp_path: Path, run_cli) -> Path:  # type: ignore[no-untyped-def]
    """An initialised home (SQLite, filesystem store, signing key)."""
    path = tmp_path / "home"
    result = run_cli("--home", str(path), "init")
    assert result.code == 0, result.stderr
    return path
