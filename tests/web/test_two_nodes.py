"""Two real ``repoversion serve`` processes on one PostgreSQL and one S3 bucket (moto's
server), raced: for every immutable URL both answer the same bytes, whichever node
generated or fetched them first."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.fixtures.archives import Pkg
from tests.fixtures.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.mirror.conftest import NOW, Mirror

SERVE = [str(Path(sys.executable).parent / "repoversion"), "serve", "--workers", "2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still loading the app
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "a node did not start"
        time.sleep(0.1)


@pytest.fixture
def shared_env(pg_url: str, s3_endpoint: str, s3_bucket: str, tmp_path: Path) -> dict[str, str]:
    """What every node shares: the database, the bucket and the signing key."""
    return {
        "REPOVERSION_NOW": NOW,
        "REPOVERSION_DATABASE_URL": pg_url,
        "REPOVERSION_STORAGE_URL": f"s3://{s3_bucket}/rv",
        "REPOVERSION_S3_ENDPOINT_URL": s3_endpoint,
        "REPOVERSION_SIGNING_KEY": str(tmp_path / "shared-key.asc"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
    }


@pytest.fixture
def nodes(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[list[str]]:
    """Two serve processes, each with its own home (its own locks and caches)."""
    procs: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for name in ("node-a", "node-b"):
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
            env.update(shared_env, REPOVERSION_HOME=str(tmp_path / name))
            procs.append(
                subprocess.Popen(
                    [*SERVE, "--bind", f"127.0.0.1:{port}"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            _wait_healthy(base, proc)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def test_two_nodes_race_and_serve_the_same_bytes(  # type: ignore[no-untyped-def]
    tmp_path, run_cli, shared_env, fixture_archive, request
) -> None:
    home = tmp_path / "admin"
    assert run_cli("--home", str(home), "init", env=shared_env).code == 0
    admin = Mirror(home, run_cli, shared_env)
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "2.0")])
    admin.add(arc)
    assert admin.sync()["repoversion"] == "1.0.0"
    bases: list[str] = request.getfixturevalue("nodes")
    paths = [
        "/v/1.0.0/debian/dists/bookworm/InRelease",
        "/v/1.0.0/debian/dists/bookworm/Release.gpg",
        "/v/1.0.0/packages.json",
        *(f"/v/1.0.0/debian/{p.filename}" for p in arc.packages()),
    ]
    jobs = [(base, path) for path in paths for base in bases for _ in range(4)]

    def get(job: tuple[str, str]) -> tuple[str, int, str]:
        base, path = job
        with requests.Session() as s:  # a connection each: spread over both nodes' workers
            r = s.get(base + path, timeout=60)
        return path, r.status_code, hashlib.sha256(r.content).hexdigest()

    with ThreadPoolExecutor(16) as pool:  # every first request races another node's
        answers = list(pool.map(get, jobs))
    assert {status for _, status, _ in answers} == {200}
    for path in paths:
        digests = {digest for p, _, digest in answers if p == path}
        assert len(digests) == 1, f"{path}: the nodes disagree"
    for pkg in arc.packages():
        want = hashlib.sha256(arc.deb_path(pkg).read_bytes()).hexdigest()
        assert {d for p, _, d in answers if p.endswith(pkg.filename)} == {want}
