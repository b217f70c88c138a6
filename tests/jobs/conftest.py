"""A mirror home on SQLite or PostgreSQL serving a fixture archive, the actions' context
over it, and ``repoversion worker`` as a real process.

``jobs`` runs each test using it on both databases; ``make_jobs(db_url)`` builds one for
a test that needs a given database::

    job = jobs.enqueue()
    assert jobs.mirror.cli("worker", "--once").code == 0
    assert jobs.job(job["id"])["state"] == "succeeded"
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from repoversion import actions
from repoversion.config import load_settings
from repoversion.context import Context
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import NOW, Mirror

REPOVERSION = str(Path(sys.executable).parent / "repoversion")
#: in the command line of the embedded worker's process
SPAWNED = b"multiprocessing.spawn"


def children_of(pid: int) -> dict[int, bytes]:
    """pid → command line of each child of process ``pid`` (Linux /proc)."""
    found: dict[int, bytes] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the server at ``base`` answers ``/healthz`` (a gunicorn worker still
    loading the app may hold a connection a while: client timeouts are retried)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, f"{base} did not start"
        time.sleep(0.1)


@dataclass
class JobHome:
    mirror: Mirror
    ctx: Context
    archive: FixtureArchive
    db_url: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def enqueue(self, **params: Any) -> dict[str, Any]:
        return actions.enqueue_sync(self.ctx, params)

    def job(self, job_id: int) -> dict[str, Any]:
        return actions.get_job(self.ctx, job_id)

    def env(self, **more: str) -> dict[str, str]:
        """The environment of a process working on this home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
        env.update(self.mirror.env, REPOVERSION_HOME=str(self.mirror.home), **more)
        return env

    def start_worker(self, name: str = "worker", **env: str) -> subprocess.Popen[bytes]:
        """``repoversion worker`` in a process of its own, its log in ``<home>/<name>.log``."""
        log = (self.mirror.home / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [REPOVERSION, "worker"], env=self.env(**env), stdout=log, stderr=log
        )
        log.close()
        self.procs.append(proc)
        return proc

    def wait_job(
        self, job_id: int, until: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        """Poll the job until ``until(job)`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if until(job):
                return job
            assert time.monotonic() < deadline, f"job {job_id} stayed {job}"
            time.sleep(0.1)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        self.ctx.close()


@pytest.fixture
def make_jobs(
    tmp_path: Path, run_cli: Callable[..., Any], fixture_archive: Callable[..., FixtureArchive]
) -> Iterator[Callable[..., JobHome]]:
    """Factory: ``make_jobs(db_url, **settings)``: an initialised home on ``db_url`` with
    the archive ``debian`` (hello 1.0) added, and extra ``REPOVERSION_*`` settings."""
    made: list[JobHome] = []

    def make(db_url: str, **settings: str) -> JobHome:
        home = tmp_path / f"home{len(made)}"
        home.mkdir()
        (home / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
        env = {"REPOVERSION_NOW": NOW, **settings}
        mirror = Mirror(home, run_cli, env)
        result = mirror.cli("init")
        assert result.code == 0, result.stderr
        archive = fixture_archive([Pkg("hello", "1.0")]) if not made else made[0].archive
        mirror.add(archive)
        ctx = Context(load_settings(home, environ=env))
        made.append(JobHome(mirror, ctx, archive, db_url))
        return made[-1]

    yield make
    for job_home in made:
        job_home.close()


@pytest.fixture
def jobs(make_jobs: Callable[..., JobHome], db_url: str) -> JobHome:
    """A :class:`JobHome` on SQLite, then on PostgreSQL."""
    return make_jobs(db_url)
