"""Exports run by the worker: archives marked ``--ostree-export`` (at sync time and on
first request) and ``POST /api/v1/ostree/exports``; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from repoversion import actions
from repoversion.config import load_settings
from repoversion.ostree.export import control_ref, data_ref
from repoversion.ostree.repo import Repo
from repoversion.web import create_app
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import NOW
from tests.ostree.conftest import Home
from tests.web.running import serving

PACKAGES = [Pkg("hello", "1.0"), Pkg("libfoo", "2.1")]


def _jobs(home: Home) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from repoversion.db.models import Job
    from repoversion.db.session import transaction

    with transaction(home.ctx.sessions) as s:
        ids = list(s.scalars(select(Job.id).where(Job.kind == "ostree_export").order_by(Job.id)))
    return [actions.get_job(home.ctx, i) for i in ids]


def test_an_immediate_archive_is_exported_by_the_worker_after_the_sync(
    exporting: Home, fixture_archive: Any
) -> None:
    archive = fixture_archive(PACKAGES, suite="bookworm")
    m = exporting.mirror
    m.add(archive, "--policy", "immediate", "--ostree-export")
    shown = json.loads(m.cli("archive", "show", archive.name, "--json").stdout)
    assert shown["ostree_export"] is True
    m.sync()
    shas = {archive.sha256(p.filename) for p in PACKAGES}
    [job] = _jobs(exporting)
    assert job["state"] == "queued"  # the sync itself exported nothing
    assert not (exporting.repo / "refs" / "heads" / "dpkg").exists()
    assert m.cli("worker", "--once").code == 0
    [job] = _jobs(exporting)
    assert job["state"] == "succeeded", job
    assert job["result"]["exported"] == 2
    assert job["progress"] == {"debs": 2, "total": 2}
    repo = Repo(exporting.repo)
    assert all(repo.rev_parse(data_ref(s)) and repo.rev_parse(control_ref(s)) for s in shas)


def test_edit_turns_the_export_on_and_off(exporting: Home, fixture_archive: Any) -> None:
    archive = fixture_archive(PACKAGES, suite="bookworm")
    m = exporting.mirror
    m.add(archive, "--policy", "immediate")
    assert m.cli("archive", "edit", archive.name, "--ostree-export").code == 0
    assert json.loads(m.cli("archive", "show", archive.name, "--json").stdout)["ostree_export"]
    assert m.cli("archive", "edit", archive.name, "--no-ostree-export").code == 0
    assert not json.loads(m.cli("archive", "show", archive.name, "--json").stdout)["ostree_export"]
    m.sync()
    assert _jobs(exporting) == []  # not marked: nothing queued


def _wait_for(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.2)


def test_an_on_demand_deb_is_exported_after_its_first_request(
    exporting: Home, fixture_archive: Any
) -> None:
    archive = fixture_archive(PACKAGES, suite="bookworm")
    m = exporting.mirror
    m.add(archive, "--ostree-export")  # on_demand
    m.sync()
    hello = Pkg("hello", "1.0")
    sha = archive.sha256(hello.filename)
    repo = Repo(exporting.repo)
    with serving(m.home) as server:  # with its embedded worker
        resp = server.get(f"/v/1.0.0/{archive.name}/{hello.filename}")
        assert resp.status_code == 200
        assert resp.content == archive.read(hello.filename)
        _wait_for(lambda: repo.rev_parse(data_ref(sha)) is not None, "the export")
        _wait_for(lambda: all(j["state"] == "succeeded" for j in _jobs(exporting)), "the job")
    libfoo = archive.sha256(Pkg("libfoo", "2.1").filename)
    assert repo.rev_parse(data_ref(libfoo)) is None  # never asked for, never stored


@pytest.fixture
def api_client(exporting: Home, fixture_archive: Any) -> Iterator[tuple[FlaskClient, str]]:
    m = exporting.mirror
    m.add(fixture_archive(PACKAGES, suite="bookworm"))
    m.sync()
    token = json.loads(m.cli("token", "create", "ci", "--json").stdout)["token"]
    app = create_app(load_settings(m.home, environ={"REPOVERSION_NOW": NOW}))
    try:
        yield app.test_client(), token
    finally:
        app.extensions["repoversion"].close()


def test_api_queues_an_export_job_that_the_worker_runs(
    exporting: Home, api_client: tuple[FlaskClient, str]
) -> None:
    client, token = api_client
    auth = {"Authorization": f"Bearer {token}"}
    body = {"version": "1.0.0", "packages": ["hello", "libfoo:amd64=2.1"]}
    resp = client.post("/api/v1/ostree/exports", json=body, headers=auth)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/ostree/exports/{job['id']}"
    assert (job["kind"], job["state"]) == ("ostree_export", "queued")
    assert exporting.mirror.cli("worker", "--once").code == 0
    done = client.get(f"/api/v1/ostree/exports/{job['id']}").get_json()
    assert done["state"] == "succeeded", done
    assert sorted(d["package"] for d in done["result"]["debs"]) == ["hello", "libfoo"]
    for deb in done["result"]["debs"]:
        assert Repo(exporting.repo).rev_parse(deb["data"]["ref"]) == deb["data"]["commit"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"version": "1.0.0", "packages": ["nosuch"]}, 404, "has no binary package nosuch"),
        ({"version": "1.0.0", "packages": []}, 422, "name at least one package"),
        ({"packages": ["hello"]}, 422, "either a version and packages or a lockfile"),
        ({"version": "1.0.0", "packages": ["hello"], "extra": 1}, 422, "extra"),
    ],
    ids=["unknown package", "no packages", "no version", "unknown field"],
)
def test_api_refuses_bad_exports_with_one_sentence(
    exporting: Home,
    api_client: tuple[FlaskClient, str],
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    client, token = api_client
    resp = client.post(
        "/api/v1/ostree/exports", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert set(resp.get_json()) == {"code", "message"}
    assert words in resp.get_json()["message"]
    assert _jobs(exporting) == []


def test_api_export_needs_a_write_token(
    exporting: Home, api_client: tuple[FlaskClient, str]
) -> None:
    client, _ = api_client
    resp = client.post("/api/v1/ostree/exports", json={"version": "1.0.0", "packages": ["hello"]})
    assert resp.status_code == 401
    assert client.get("/api/v1/ostree/exports/999999").status_code == 404
    assert _jobs(exporting) == []
