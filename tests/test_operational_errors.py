"""The machine failing, not the request: a database locked by another writer or out of
reach, a full disk. Each is one sentence (CLI: stderr and exit 1; HTTP: 503 JSON with
``Retry-After``), never a traceback or a 500, and nothing is half-written.

SQLite waits 30 s for a lock before giving up; these tests shorten that wait on the
engine they use (one more ``PRAGMA busy_timeout`` on connect) so a real lock, held by a
second real connection, is met in a tenth of a second.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

import repoversion.context
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.web import create_app
from tests.fixtures.archives import Pkg
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import NOW, Mirror

mirror = mirror_conftest.mirror  # the fixture, shared with tests/mirror

BUSY = "The database is busy (locked by another writer); try again."


def _short_busy_wait(engine: Engine) -> Engine:
    def pragma(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=100")

    event.listen(engine, "connect", pragma)
    return engine


@contextlib.contextmanager
def _write_locked(db: Path) -> Iterator[None]:
    """Another writer holds ``db``'s write lock (a real SQLite connection); readers can
    still read (WAL, as repoversion runs it), so it is a write that meets the lock."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_locked_database_is_one_sentence_and_changes_nothing(
    home: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = repoversion.context.make_engine
    monkeypatch.setattr(repoversion.context, "make_engine", lambda url: _short_busy_wait(real(url)))
    with _write_locked(home / "repoversion.db"):
        result = run_cli("--home", str(home), "token", "create", "ci")
    assert result.code == 1
    assert result.stdout == ""
    assert _one_line(result.stderr) == f"error: {BUSY}"
    # the failed command wrote nothing: the same name is still free
    result = run_cli("--home", str(home), "token", "create", "ci", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "ci"


def test_a_locked_database_is_a_503_to_retry(mirror: Mirror, fixture_archive: Any) -> None:
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    settings = load_settings(mirror.home, environ={"REPOVERSION_NOW": NOW})
    ctx = Context(settings)
    _short_busy_wait(ctx.engine)
    app = create_app(settings, ctx)
    client = app.test_client()
    # under on_demand, the first request for a pool file records the blob it downloads
    path = f"/v/1.0.0/debian/{arc.packages()[0].filename}"
    try:
        with _write_locked(mirror.home / "repoversion.db"):
            resp = client.get(path)
        assert resp.status_code == 503
        assert resp.json == {"code": "database_busy", "message": BUSY}
        assert resp.headers["Cache-Control"] == "no-store"
        assert int(resp.headers["Retry-After"]) > 0
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.data == arc.deb_path(arc.packages()[0]).read_bytes()
    finally:
        ctx.close()


def test_an_unreachable_database_is_one_sentence(tmp_path: Path, home: Path, run_cli: Any) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/rv"
    env = {"REPOVERSION_DATABASE_URL": url}
    for args in (["--home", str(home), "versions"], ["--home", str(tmp_path / "new"), "init"]):
        result = run_cli(*args, env=env)
        assert result.code == 1, args
        line = _one_line(result.stderr)
        assert line.startswith("error: Cannot reach the database: "), line
        assert "Connection refused" in line and line.endswith("."), line
        assert "sqlalche.me" not in line


def test_an_unreachable_database_is_a_503_without_internals(home: Path) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/rv"
    settings = load_settings(home, environ={"REPOVERSION_DATABASE_URL": url})
    app = create_app(settings)
    try:
        for path in ("/v/1.0.0/index.json", "/v/latest/index.json", "/healthz"):
            resp = app.test_client().get(path)
            assert resp.status_code == 503, path
            assert resp.json == {
                "code": "database_unreachable",
                "message": "The database cannot be reached; try again later.",
            }
            assert resp.headers["Cache-Control"] == "no-store"
            assert "Retry-After" in resp.headers
    finally:
        app.extensions["repoversion"].close()


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Any]]:
    """``store`` on a 1 MiB tmpfs; ``fill()`` writes to it until no space is left and
    returns how to free that space again. Where mounting is not allowed (not root), the
    store's ``fsync`` fails with ENOSPC instead, as it does on a full disk."""
    store = tmp_path / "store"
    store.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(store)]
    mounted = subprocess.run(mount, capture_output=True, check=False).returncode == 0

    def fill() -> Callable[[], None]:
        if mounted:
            return _fill(store).unlink
        from repoversion.storage import filesystem

        def no_space(_fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(filesystem.os, "fsync", no_space)
        return monkeypatch.undo

    yield fill
    if mounted:
        subprocess.run(["umount", str(store)], check=True)


def _fill(path: Path) -> Path:
    """Write to a file in ``path`` until its file system has no space left."""
    filler = path / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(chunk)
    with pytest.raises(OSError) as full:
        (path / "probe").write_bytes(chunk)
    assert full.value.errno == errno.ENOSPC
    return filler


def test_a_full_disk_is_one_sentence_and_the_sync_commits_nothing(
    tmp_path: Path, run_cli: Any, fixture_archive: Any, small_disk: Callable[[], Any]
) -> None:
    store = tmp_path / "store"
    env = {"REPOVERSION_NOW": NOW, "REPOVERSION_STORAGE_URL": store.as_uri()}
    mirror = Mirror(tmp_path / "home", run_cli, env)
    assert mirror.cli("init").code == 0
    mirror.add(fixture_archive([Pkg("hello", "1.0")]))
    free = small_disk()
    result = mirror.cli("sync", "--json")
    assert result.code == 1
    assert result.stdout == ""
    line = _one_line(result.stderr)
    assert line.startswith("error: The disk is full: "), line
    assert "Errno" not in line
    assert mirror.versions() == []
    assert not list(store.glob("tmp/*.part"))  # no half-written blob
    free()
    assert mirror.sync()["repoversion"] == "1.0.0"
