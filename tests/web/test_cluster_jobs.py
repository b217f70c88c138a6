"""Several nodes, for real: two ``repoversion serve`` processes (no embedded worker) and
one ``repoversion worker`` on one PostgreSQL and one S3 bucket (moto's server). A sync
asked of node A through the API is run by the worker, and node B serves the new version
at once, byte for byte the same as node A: apt files and API alike."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.fixtures.archives import Pkg
from tests.jobs.conftest import SPAWNED, children_of, wait_ready
from tests.mirror.conftest import Mirror
from tests.web import test_two_nodes
from tests.web.test_two_nodes import SERVE, _free_port

shared_env = test_two_nodes.shared_env  # the fixture: database, bucket, signing key
WORKER = [SERVE[0], "worker"]


@dataclass
class Cluster:
    nodes: list[str]
    worker: subprocess.Popen[bytes]


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    full.update(env)
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=full, stdout=out, stderr=out)


@pytest.fixture
def cluster(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[Cluster]:
    """Node A and node B serving, the worker working; each with a home of its own."""
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for name in ("node-a", "node-b"):
            port = _free_port()
            env = {
                **shared_env,
                "REPOVERSION_HOME": str(tmp_path / name),
                "REPOVERSION_EMBEDDED_WORKER": "false",
            }
            serve = [*SERVE, "--bind", f"127.0.0.1:{port}"]
            procs.append(_start(serve, env, tmp_path / f"{name}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        env = {**shared_env, "REPOVERSION_HOME": str(tmp_path / "worker")}
        procs.append(_start(WORKER, env, tmp_path / "worker.log"))
        for base, proc in zip(bases, procs, strict=False):
            wait_ready(base, proc)
            # gunicorn was ready before its workers answered: no job worker was started
            assert not [c for c in children_of(proc.pid).values() if SPAWNED in c]
        yield Cluster(bases, procs[-1])
    finally:
        for proc in procs:
            proc.terminate()
        codes = [proc.wait(timeout=60) for proc in procs]
    assert codes == [0, 0, 0]


def _wait_done(base: str, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        job: dict[str, Any] = requests.get(f"{base}/api/v1/syncs/{job_id}", timeout=10).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stayed {job['state']}"
        time.sleep(0.1)


def test_a_sync_asked_of_node_a_is_served_by_node_b_at_once(  # type: ignore[no-untyped-def]
    tmp_path, run_cli, shared_env, fixture_archive, request
) -> None:
    admin = Mirror(tmp_path / "admin", run_cli, shared_env)
    assert admin.cli("init").code == 0
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "2.0")])
    admin.add(arc)
    token = json.loads(admin.cli("token", "create", "ci", "--json").stdout)["token"]
    cluster: Cluster = request.getfixturevalue("cluster")
    a, b = cluster.nodes
    assert requests.get(f"{b}/v/1.0.0/packages.json", timeout=10).status_code == 404

    asked = requests.post(
        f"{a}/api/v1/syncs", json={}, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert asked.status_code == 202, asked.text
    job = _wait_done(a, asked.json()["id"])
    assert job["state"] == "succeeded", job
    assert job["result"]["repoversion"] == "1.0.0" and job["result"]["new"] is True
    assert requests.get(f"{b}/api/v1/syncs/{job['id']}", timeout=10).json() == job

    paths = [
        "/v/1.0.0/debian/dists/bookworm/InRelease",
        "/v/1.0.0/debian/dists/bookworm/Release.gpg",
        "/v/1.0.0/packages.json",
        "/api/v1/versions/1.0.0",
    ]
    for path in paths:  # node B first: nothing of 1.0.0 was asked of any node before
        from_b = requests.get(b + path, timeout=30)
        from_a = requests.get(a + path, timeout=30)
        assert (from_b.status_code, from_a.status_code) == (200, 200), path
        assert from_b.content == from_a.content, f"{path}: the nodes disagree"
    listed = requests.get(f"{b}/v/1.0.0/packages.json", timeout=10).json()
    assert {"hello", "world"} <= {p["name"] for p in listed}

    # The worker ran it: neither server node runs jobs.
    engine = create_engine(shared_env["REPOVERSION_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            holder = conn.execute(text("SELECT worker FROM job")).scalar_one()
    finally:
        engine.dispose()
    assert holder.endswith(f":{cluster.worker.pid}")
