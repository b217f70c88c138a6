"""Lockfiles over HTTP: ``POST /api/v1/versions/<ref>/resolve``, ``POST /api/v1/lockfiles``
and ``GET /api/v1/lockfiles/<id>``, and the commands that use them: ``lock --server`` and
``lockfile sources --exact``, against a real ``repoversion serve``."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from repoversion.config import load_settings
from repoversion.web import create_app
from tests.fixtures.archives import FixtureArchive
from tests.mirror.conftest import NOW, Mirror
from tests.resolve.conftest import lock_cli
from tests.resolve.test_lockrepo import token
from tests.test_remote_cli import HEAVY, IMPORTS
from tests.web import running
from tests.web.running import serving

mirror_on_db = running.mirror_on_db  # the fixture: SQLite and PostgreSQL

RESOLVE = "/api/v1/versions/{}/resolve"


def _client(home: Path) -> Iterator[FlaskClient]:
    """The app over ``home``, with the CLI's settings (its public URL)."""
    app = create_app(load_settings(home, environ={"REPOVERSION_NOW": NOW}))
    yield app.test_client()
    app.extensions["repoversion"].close()


@pytest.fixture
def client(world_mirror: Mirror) -> Iterator[FlaskClient]:
    """The app over the world mirror's home (SQLite)."""
    yield from _client(world_mirror.home)


@pytest.fixture
def world_db(mirror_on_db: Mirror, world_archive: FixtureArchive) -> Mirror:
    """The world archive synced into 1.0.0 of a home on SQLite, then on PostgreSQL."""
    mirror_on_db.add(world_archive)
    assert mirror_on_db.sync()["repoversion"] == "1.0.0"
    return mirror_on_db


@pytest.fixture
def client_db(world_db: Mirror) -> Iterator[FlaskClient]:
    """The app over :func:`world_db`'s home."""
    yield from _client(world_db.home)


def resolve(client: FlaskClient, ref: str, *packages: str, **more: Any) -> TestResponse:
    body = {"packages": list(packages), "architecture": "amd64", **more}
    return client.post(RESOLVE.format(ref), json=body)


def refusal(resp: TestResponse, status: int) -> str:
    """The message of a ``{code, message}`` error with ``status``."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"code", "message"} and resp.headers["Cache-Control"] == "no-store"
    return str(body["message"])


def test_resolve_answers_the_bytes_lock_writes(world_mirror: Mirror, client: FlaskClient) -> None:
    local = lock_cli(world_mirror, "tool", "hello")
    assert local.code == 0, local.stderr
    first = resolve(client, "1.0.0", "tool", "hello")
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.data == local.stdout.encode()
    assert resolve(client, "1.0.0", "tool", "hello").data == first.data
    # a tag names the same version: the same lockfile
    assert world_mirror.cli("tag", "stable", "1.0.0").code == 0
    assert resolve(client, "stable", "tool", "hello").data == first.data
    recommended = resolve(client, "1.0.0", "hello/bookworm", recommends=True)
    assert (
        recommended.data == lock_cli(world_mirror, "hello/bookworm", "--recommends").stdout.encode()
    )
    assert "hello-doc" in [p["name"] for p in json.loads(recommended.data)["packages"]]


def test_resolve_refuses_as_lock_does(world_mirror: Mirror, client: FlaskClient) -> None:
    for args, status in (
        (("nosuch",), 422),
        (("app",), 422),
        (("mail-transport-agent",), 422),
        (("hello*",), 422),
    ):
        message = refusal(resolve(client, "1.0.0", *args), status)
        assert f"error: {message}\n" == lock_cli(world_mirror, *args).stderr
    assert refusal(resolve(client, "1.0.0", "app"), 422).startswith("Cannot install app: ")
    arm = client.post(
        RESOLVE.format("1.0.0"), json={"packages": ["hello"], "architecture": "arm64"}
    )
    assert refusal(arm, 422) == "Repoversion 1.0.0 serves no Packages for arm64."
    assert refusal(resolve(client, "9.9.9", "hello"), 404) == "No repoversion 9.9.9."
    assert refusal(resolve(client, "1.0.0"), 422) == "Name at least one package to resolve."
    bad = client.post(RESOLVE.format("1.0.0"), json={"packages": "hello", "architecture": "amd64"})
    assert refusal(bad, 422).startswith("Field `packages`: ")


def test_a_lockfile_is_stored_once_with_a_write_token(
    world_mirror: Mirror, client: FlaskClient
) -> None:
    data = resolve(client, "1.0.0", "tool").data
    url = "/api/v1/lockfiles"
    assert refusal(client.post(url, data=data, content_type="application/json"), 401)
    bad = {"Authorization": "Bearer rv_not-a-token"}
    refusal(client.post(url, data=data, content_type="application/json", headers=bad), 401)
    write = {"Authorization": f"Bearer {token(world_mirror)}"}
    resp = client.post(url, data=data, content_type="application/json", headers=write)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    answer = resp.get_json()
    lock_id = hashlib.sha256(data.rstrip(b"\n")).hexdigest()
    assert answer["id"] == lock_id
    assert resp.headers["Location"] == f"/api/v1/lockfiles/{lock_id}"
    assert answer["key_command"] == (
        "curl -fsSL http://127.0.0.1:8080/keys/repoversion.gpg -o /etc/apt/keyrings/repoversion.gpg"
    )
    assert answer["sources"] == [
        "deb [signed-by=/etc/apt/keyrings/repoversion.gpg] "
        f"http://127.0.0.1:8080/l/{lock_id}/debian bookworm main"
    ]
    again = client.post(url, data=data, content_type="application/json", headers=write)
    assert again.status_code == 201 and again.get_json() == answer
    got = client.get(f"{url}/{lock_id}")
    assert got.status_code == 200 and got.data == data and got.mimetype == "application/json"
    assert (
        refusal(client.get(f"{url}/{'0' * 64}"), 404) == f"No lockfile {'0' * 64} is stored here."
    )
    refusal(client.get(f"{url}/nothex"), 404)


def test_a_lockfile_its_version_does_not_hold_is_refused(
    world_db: Mirror, client_db: FlaskClient
) -> None:
    client = client_db
    lock = json.loads(resolve(client, "1.0.0", "tool").data)
    write = {"Authorization": f"Bearer {token(world_db)}"}

    def refused(changed: dict[str, Any]) -> str:
        message = refusal(client.post("/api/v1/lockfiles", json=changed, headers=write), 422)
        # nothing was stored
        lock_id = hashlib.sha256(
            json.dumps(changed, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        refusal(client.get(f"/api/v1/lockfiles/{lock_id}"), 404)
        return message

    other = copy.deepcopy(lock)
    perl = next(p for p in other["packages"] if p["name"] == "perl")
    served, perl["sha256"] = perl["sha256"], "0" * 64
    assert refused(other) == (
        f"perl 5.36.0-7 (debian/{perl['filename']}) has sha256 {served} ({perl['size']} bytes) "
        f"here, not {'0' * 64} ({perl['size']} bytes)."
    )
    renamed = copy.deepcopy(lock)
    renamed["packages"][0]["name"] = "clash"  # a package of the version, another file
    assert "is not in repoversion 1.0.0 as bookworm/main amd64" in refused(renamed)
    two = copy.deepcopy(other)
    two["packages"][0]["suite"] = "bookworm-backports"
    assert refused(two).endswith(" (1 more entries do not match either).")
    assert refused({**lock, "repoversion": "9.9.9"}) == (
        "The lockfile's repoversion '9.9.9' is not on this server."
    )
    assert world_db.cli("tag", "stable", "1.0.0").code == 0
    assert "must be X.Y.Z, not 'stable'" in refused({**lock, "repoversion": "stable"})
    assert "here has state" in refused({**lock, "state": "sha256:" + "1" * 64})
    # the body's shape: no unknown field, no "3" for 3, at least one package
    assert refused({**lock, "extra": 1}).startswith("Field `extra`: ")
    sized = copy.deepcopy(lock)
    sized["packages"][0]["size"] = str(sized["packages"][0]["size"])
    assert refused(sized).startswith("Field `packages.0.size`: ")
    assert refused({**lock, "packages": []}).startswith("Field `packages`: ")
    assert refused({**lock, "repoversion": "1.0.0\x00"}).startswith("Field `repoversion`: ")
    # and the lockfile as it is is stored
    assert client.post("/api/v1/lockfiles", json=lock, headers=write).status_code == 201


@pytest.fixture
def served(world_mirror: Mirror) -> Iterator[str]:
    """A real ``repoversion serve`` over the world mirror's home: its URL."""
    with serving(world_mirror.home) as server:
        yield server.url


def remote(m: Mirror, url: str, *args: str) -> Any:
    """``args`` with ``--server url``, from a home that does not exist."""
    return m.run_cli("--home", str(m.home.parent / "no-home"), *args, "--server", url, env={})


def test_lock_server_writes_what_lock_writes(
    world_mirror: Mirror, served: str, tmp_path: Path
) -> None:
    m = world_mirror
    # the lockfile's urls are the server's public URL: the local one is given the same
    here = Mirror(m.home, m.run_cli, {**m.env, "REPOVERSION_PUBLIC_URL": served})
    for args in (("tool", "hello"), ("hello/bookworm", "--recommends"), ("nosuch",), ("app",)):
        local = lock_cli(here, *args)
        far = remote(m, served, "lock", "--version", "1.0.0", "--arch", "amd64", *args)
        assert (far.code, far.stdout, far.stderr) == (local.code, local.stdout, local.stderr)
    assert lock_cli(here, "tool").stdout.count(f'"url":"{served}/v/1.0.0/debian/pool/') == 4
    out = tmp_path / "remote.lock.json"
    far = remote(
        m, served, "lock", "--version", "latest", "--arch", "amd64", "-o", str(out), "tool"
    )
    assert far.code == 0 and far.stdout == ""
    assert out.read_bytes() == lock_cli(here, "tool").stdout.encode()
    gone = remote(m, served, "lock", "--version", "9.9.9", "--arch", "amd64", "tool")
    assert (gone.code, gone.stderr) == (1, "error: No repoversion 9.9.9.\n")
    assert not (m.home.parent / "no-home").exists()

    # a remote lock imports no database layer, as the other remote reads
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    argv = [["lock", "--server", served, "--version", "1.0.0", "--arch", "amd64", "tool"]]
    imported = subprocess.run(
        [sys.executable, "-c", IMPORTS, json.dumps(argv), json.dumps(HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert '"packages":' in imported.stdout
    assert json.loads(imported.stdout.splitlines()[-1]) == []


def test_lockfile_sources_exact_stores_it_and_prints_its_source(
    world_mirror: Mirror, served: str, tmp_path: Path
) -> None:
    m = world_mirror
    path = tmp_path / "repoversion.lock.json"
    assert lock_cli(m, "-o", str(path), "tool", "hello").code == 0
    lock_id = hashlib.sha256(path.read_bytes().rstrip(b"\n")).hexdigest()
    key = "/etc/apt/keyrings/repoversion.gpg"
    expected = [
        f"sudo install -d /etc/apt/keyrings && sudo curl -fsSL {served}/keys/repoversion.gpg "
        f"-o {key}",
        f"deb [signed-by={key}] {served}/l/{lock_id}/debian bookworm main",
        f"deb [signed-by={key}] {served}/l/{lock_id}/debian bookworm-backports main",
    ]
    refused = remote(m, served, "lockfile", "sources", str(path), "--exact")
    assert refused.code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    secret = token(m)
    far = remote(m, served, "lockfile", "sources", str(path), "--exact", "--token", secret)
    assert (far.code, far.stderr) == (0, "")
    assert far.stdout.splitlines() == expected
    # the home stores it too (its public URL set to the server's): the same lines
    here = Mirror(m.home, m.run_cli, {**m.env, "REPOVERSION_PUBLIC_URL": served})
    assert here.cli("lockfile", "sources", str(path), "--exact").stdout.splitlines() == expected

    path.write_text("{not json")
    broken = remote(m, served, "lockfile", "sources", str(path), "--exact", "--token", secret)
    assert (broken.code, broken.stderr) == (1, f"error: {path} is not a JSON lockfile.\n")
    plain = remote(m, served, "lockfile", "sources", str(path))
    assert plain.stderr == "error: lockfile sources reads a server only with --exact.\n"
