"""``POST /api/v1/gc`` (admin) queues a collection the worker runs; what a dropped version
answers over HTTP; generated files (``derived`` rows) and stored lockfiles survive it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from tests.fixtures.archives import Pkg
from tests.web.api.conftest import Api, api, api_db, make_api

from repoversion.config import load_settings
from repoversion.web import create_app

__all__ = ["api", "api_db", "make_api"]  # fixtures


def test_gc_runs_as_an_admin_job(api_db: Api) -> None:
    api = api_db
    api.republish(Pkg("hello", "2.0"))
    api.republish(Pkg("hello", "3.0"))
    api.error("POST", "/gc", 401)
    assert "admin" in api.error("POST", "/gc", 403, api.write, json={"keep": 1})

    resp = api.call("POST", "/gc", api.admin, json={"keep": 1, "grace": "0"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/gc/{job['id']}"
    assert (job["kind"], job["state"]) == ("gc", "queued")
    assert api.ok("GET", f"/gc/{job['id']}") == job
    assert api.mirror.versions() == ["1.2.0", "1.1.0", "1.0.0"]  # nothing yet

    worker = api.mirror.cli("worker", "--once")
    assert worker.code == 0, worker.stderr
    done = api.ok("GET", f"/gc/{job['id']}")
    assert done["state"] == "succeeded", done
    assert done["result"]["dropped"] == ["1.0.0", "1.1.0"]
    assert done["result"]["freed"]["blobs"] > 0
    assert done["progress"]["files"] == done["result"]["stored"]["blobs"]
    assert done["progress"]["bytes"] == done["result"]["freed"]["bytes"]

    assert [v["repoversion"] for v in api.ok("GET", "/versions")["items"]] == ["1.2.0"]
    assert "deleted" in api.error("GET", "/versions/1.0.0", 410)
    api.error("GET", "/versions/1.1.0/packages", 410)
    api.error("GET", "/versions/1.0.0/diff/1.2.0", 410)
    fresh = _fresh_client(api)  # a server started after the collection
    assert fresh.get("/v/1.0.0/index.json").status_code == 410
    assert fresh.get("/v/1.2.0/index.json").status_code == 200


def test_gc_request_errors(api: Api) -> None:
    for body, field in (
        ({"keep": 0}, "`keep`"),
        ({"keep": "many"}, "`keep`"),
        ({"dry_run": "maybe"}, "`dry_run`"),
        ({"grace": "soon"}, "grace"),
        ({"keep_since": "yesterday"}, "keep-since"),
        ({"keeep": 1}, "`keeep`"),
    ):
        assert field in api.error("POST", "/gc", 422, api.admin, json=body), body
    sync = api.ok("POST", "/syncs", api.write)
    api.error("GET", f"/gc/{sync['id']}", 404)
    api.error("GET", "/gc/999999", 404)
    # an empty body drops nothing: it only frees what is old and unreferenced
    job = api.ok("POST", "/gc", api.admin)
    assert api.mirror.cli("worker", "--once").code == 0  # the sync
    assert api.mirror.cli("worker", "--once").code == 0  # the collection
    result = api.ok("GET", f"/gc/{job['id']}")["result"]
    assert (result["dropped"], result["grace"], result["dry_run"]) == ([], "1h", False)


def _fresh_client(api: Api) -> FlaskClient:
    app = create_app(load_settings(api.mirror.home, environ=dict(api.mirror.env)))
    return app.test_client()


def _derived(api: Api) -> dict[str, list[str]]:
    """Every ``derived`` row: key → the digests it names."""
    settings = load_settings(api.mirror.home, environ=dict(api.mirror.env))
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT key, blobs FROM derived")).all()
    finally:
        engine.dispose()
    out: dict[str, list[str]] = {}
    for key, blobs in rows:
        data: dict[str, Any] = json.loads(blobs) if isinstance(blobs, str) else blobs
        out[key] = [ref[0] for ref in data.values()]
    return out


def _store_lockfile(api: Api, version: str) -> str:
    resp = api.call(
        "POST",
        f"/versions/{version}/resolve",
        json={"packages": ["hello"], "architecture": "amd64"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    stored = api.ok("POST", "/lockfiles", api.write, json=json.loads(resp.get_data()))
    return str(stored["id"])


def test_generated_files_and_stored_lockfiles_survive(api_db: Api) -> None:
    api = api_db
    api.republish(Pkg("hello", "2.0"))
    arc = api.archive.name
    urls = [
        f"/v/{v}/{arc}/dists/bookworm/{name}"
        for v in ("1.0.0", "1.1.0")
        for name in ("InRelease", "Release.gpg")
    ] + ["/v/1.0.0/packages.json", "/v/1.1.0/packages.json", "/keys/repoversion.gpg"]
    before = {url: _get(api.client, url) for url in urls}
    old_lock, new_lock = _store_lockfile(api, "1.0.0"), _store_lockfile(api, "1.1.0")
    lock_url = f"/l/{new_lock}/{arc}/dists/bookworm/InRelease"
    lock_release = _get(api.client, lock_url)
    _get(api.client, f"/l/{old_lock}/{arc}/dists/bookworm/InRelease")
    derived = _derived(api)

    report = api.mirror.cli("gc", "--keep", "1", "--grace", "0", "--json")
    assert report.code == 0, report.stderr
    assert json.loads(report.stdout)["dropped"] == ["1.0.0"]

    after = _derived(api)
    gone = set(derived) - set(after)
    assert gone and all(k.split("/")[0] in ("release", "packages", "stanzas") for k in gone)
    assert not any(k.startswith(("lockfile/", "lockrepo/", "keyring/")) for k in gone)
    stored = set(api.mirror.home.joinpath("blobs").rglob("*"))
    names = {p.parent.name + p.name for p in stored if p.is_file()}
    assert all(sha in names for shas in after.values() for sha in shas)

    fresh = _fresh_client(api)
    for url, body in before.items():
        if "/1.0.0/" in url:
            assert fresh.get(url).status_code == 410, url
        else:
            assert _get(fresh, url) == body, url  # the same bytes, not generated again
    assert _get(fresh, lock_url) == lock_release
    assert fresh.get(f"/l/{old_lock}/{arc}/dists/bookworm/InRelease").status_code == 410
    kept = api.ok("GET", f"/lockfiles/{old_lock}")  # the lockfile itself is kept
    assert kept["repoversion"] == "1.0.0"


def _get(client: FlaskClient, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:200])
    return hashlib.sha256(resp.get_data()).hexdigest()
