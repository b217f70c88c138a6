"""docker/compose.yaml's set-up without Docker (tests/deploy/stack.py): two
``repoversion serve`` nodes without embedded workers, one ``repoversion worker``, a fresh
database on the running PostgreSQL, and the shipped nginx configuration in front. Once
with the filesystem store, where nginx sends every file a node answers with
``X-Accel-Redirect``, once with S3 (moto's server, as compose's MinIO), where the nodes
stream. A sync asked through nginx is run by the worker; index and pool files come
through nginx with the right bytes, cached where immutable; apt installs through it."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.deploy.nginx import access_log
from tests.deploy.stack import Stack, start_stack
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.fixtures.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.mirror.conftest import NOW

pytestmark = pytest.mark.slow  # a whole set-up per store: about 15 s each
SUITE = "/v/1.0.0/debian/dists/bookworm"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, str], Path | None]:
    """The store's settings, and its directory when nginx can read it (filesystem)."""
    if request.param == "file":
        blobs = tmp_path / "blobs"
        return {"REPOVERSION_STORAGE_URL": f"file://{blobs}"}, blobs
    bucket = request.getfixturevalue("s3_bucket")
    return {
        "REPOVERSION_STORAGE_URL": f"s3://{bucket}/blobs",
        "REPOVERSION_S3_ENDPOINT_URL": request.getfixturevalue("s3_endpoint"),
        "REPOVERSION_S3_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }, None


@pytest.fixture
def stack(
    store: tuple[dict[str, str], Path | None], pg_url: str, tmp_path: Path
) -> Iterator[Stack]:
    settings, blobs = store
    shared = {
        "REPOVERSION_NOW": NOW,
        "REPOVERSION_DATABASE_URL": pg_url,
        "REPOVERSION_SIGNING_KEY": str(tmp_path / "signing-key.asc"),
        **settings,
    }
    (tmp_path / "stack").mkdir()
    with start_stack(tmp_path / "stack", shared, blobs=blobs) as running:
        yield running


def stack_session() -> requests.Session:
    """A client session that ignores proxy variables (everything is on loopback)."""
    session = requests.Session()
    session.trust_env = False
    return session


def _sync_through_nginx(stack: Stack, token: str) -> dict[str, Any]:
    """POST /api/v1/syncs through the front; the job once the worker finished it."""
    with stack_session() as http:
        asked = http.post(
            f"{stack.front}/api/v1/syncs",
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert asked.status_code == 202, asked.text
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = stack.get(f"/api/v1/syncs/{asked.json()['id']}").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"the worker left the job {job['state']}"
        time.sleep(0.2)


def _check_bad_input(stack: Stack) -> None:
    """Before any sync: refusals are one JSON sentence, and nginx keeps none of them."""
    for _ in range(2):  # the version does not exist yet: not cached, asked again
        r = stack.get(f"{SUITE}/InRelease")
        assert r.status_code == 404 and set(r.json()) == {"code", "message"}
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Cache-Status"] == "MISS"
    with stack_session() as http:
        r = http.post(f"{stack.front}/api/v1/syncs", json={}, timeout=30)
    assert r.status_code == 401 and set(r.json()) == {"code", "message"}


def _check_index_files(stack: Stack) -> None:
    """Every index file the version serves (its index.json), with its digest there; the
    uncompressed names the served Release also lists are there for apt, not served."""
    index = stack.get("/v/1.0.0/index.json").json()
    files = index["archives"]["debian"]["suites"]["bookworm"]["files"]
    assert any(path.startswith("main/binary-amd64/Packages") for path in files), files
    for path, info in files.items():
        r = stack.get(f"{SUITE}/{path}")
        assert r.status_code == 200, path
        assert hashlib.sha256(r.content).hexdigest() == info["sha256"], path
    for name in ("Release", "Release.gpg"):
        assert stack.get(f"{SUITE}/{name}").status_code == 200


def _check_pool_files(stack: Stack, arc: FixtureArchive, accel: bool) -> None:
    """Right bytes through nginx, a cache hit the second time; with the filesystem store
    nginx sent them after the node's ``X-Accel-Redirect``, with S3 the nodes streamed."""
    for pkg in arc.packages():
        path = f"/v/1.0.0/debian/{pkg.filename}"
        sha = hashlib.sha256(arc.deb_path(pkg).read_bytes()).hexdigest()
        for cache in ("MISS", "HIT"):
            r = stack.get(path)
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha
            assert r.headers["X-Cache-Status"] == cache, path
            assert r.headers["ETag"] == f'"{sha}"' and r.headers["Cache-Control"] == IMMUTABLE
        blob = f"/_blobs/sha256/{sha[:2]}/{sha[2:]}"
        answered = {row[4] for row in access_log(stack.files_log) if row[3] == path}
        assert answered == ({blob} if accel else {path}), answered
        for node in stack.nodes:  # each node, asked directly, answers the same way
            direct = stack.get(path, base=node.url)
            assert direct.status_code == 200
            if accel:
                assert direct.headers["X-Accel-Redirect"] == blob and direct.content == b""
            else:
                assert "X-Accel-Redirect" not in direct.headers
                assert hashlib.sha256(direct.content).hexdigest() == sha


def test_the_compose_set_up_syncs_serves_and_installs_through_nginx(  # type: ignore[no-untyped-def]
    stack, store, fixture_archive, make_apt_client, tmp_path
) -> None:
    arc = fixture_archive(
        [Pkg("hello", "1.0-1", depends="libhello1"), Pkg("libhello1", "1.0-1"), Pkg("other", "2.0")]
    )
    stack.cli("archive", "add", "debian", arc.url, "--suite", "bookworm", "--component", "main",
              "--arch", "amd64", "--keyring", str(arc.keyring_path))  # fmt: skip
    _check_bad_input(stack)
    token = json.loads(stack.cli("token", "create", "ci", "--json").stdout)["token"]

    job = _sync_through_nginx(stack, token)
    assert job["state"] == "succeeded", job
    assert job["result"]["repoversion"] == "1.0.0" and job["result"]["new"] is True
    assert f"job {job['id']} (sync) succeeded" in stack.workers[0].log.read_text()
    inrelease = stack.get(f"{SUITE}/InRelease")  # the 404s before were not kept
    assert inrelease.status_code == 200 and inrelease.headers["X-Cache-Status"] == "MISS"
    assert inrelease.content.startswith(b"-----BEGIN PGP SIGNED MESSAGE-----")
    _check_index_files(stack)
    # sent as "../" (requests decodes %2e); nginx passes the request line on as it came
    # (proxy_pass without a URI) and the app, not nginx, refuses the escape
    r = stack.get("/v/1.0.0/debian/pool/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd")
    assert r.status_code == 404 and set(r.json()) == {"code", "message"}
    _check_pool_files(stack, arc, accel=store[1] is not None)

    with stack_session() as http:  # a tag: through nginx, never cached there
        moved = http.put(
            f"{stack.front}/api/v1/tags/stable",
            json={"repoversion": "1.0.0"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert moved.status_code == 200, moved.text
    tagged = stack.get("/v/stable/debian/dists/bookworm/InRelease")
    assert tagged.status_code == 200 and tagged.headers["Cache-Control"] == "no-cache"
    assert "X-Cache-Status" not in tagged.headers

    key = tmp_path / "repoversion.gpg"
    key.write_bytes(stack.get("/keys/repoversion.gpg").content)
    apt = make_apt_client()
    apt.set_sources([f"deb [signed-by={key}] {stack.front}/v/1.0.0/debian bookworm main"])
    apt.update()
    debs = apt.install_download_only(["hello"])
    assert [d.name for d in debs] == ["hello_1.0-1_amd64.deb", "libhello1_1.0-1_amd64.deb"]
    upstream = {Path(p.filename).name: arc.deb_path(p).read_bytes() for p in arc.packages()}
    for deb in debs:
        assert deb.read_bytes() == upstream[deb.name]

    running = [p.name for p in [*(n.proc for n in stack.nodes), *stack.workers] if p.alive()]
    assert running == ["node-1", "node-2", "worker"]
    assert not [row for row in access_log(stack.front_log) if row[1] >= 500]
