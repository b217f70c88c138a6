"""Workers as real processes: a killed worker's job is taken again once its lease passes,
a stopped one releases its job, and racing workers never take the same job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.fixtures.archives import Pkg
from tests.jobs.conftest import JobHome

INRELEASE = "dists/bookworm/InRelease"


def _worker_of(jobs: JobHome, job_id: int) -> str:
    with jobs.ctx.engine.connect() as conn:
        value = conn.execute(text("SELECT worker FROM job WHERE id = :i"), {"i": job_id})
        return str(value.scalar_one())


def _hold_inrelease(jobs: JobHome) -> None:
    """The next InRelease request hangs (a slow upstream), so a sync is caught mid-way."""
    assert jobs.archive.server is not None
    jobs.archive.server.add_rule(f"*/{INRELEASE}", delay=120, times=1)


def _wait_for_inrelease(jobs: JobHome, job_id: int) -> None:
    jobs.wait_job(job_id, lambda j: j["state"] == "running" and INRELEASE in jobs.archive.requests)


def test_a_killed_workers_job_is_taken_again_after_its_lease(make_jobs: Any, db_url: str) -> None:
    jobs: JobHome = make_jobs(db_url, REPOVERSION_JOB_LEASE="2")
    _hold_inrelease(jobs)
    job = jobs.enqueue()
    first = jobs.start_worker("first")
    _wait_for_inrelease(jobs, job["id"])
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert jobs.job(job["id"])["state"] == "running"  # still the dead worker's
    second = jobs.start_worker("second")
    done = jobs.wait_job(job["id"], lambda j: j["state"] != "running")
    assert done["state"] == "succeeded", done
    assert done["result"]["repoversion"] == "1.0.0" and done["result"]["new"] is True
    assert _worker_of(jobs, job["id"]).endswith(f":{second.pid}")
    assert jobs.archive.requests.count(INRELEASE) == 2
    second.terminate()
    assert second.wait(timeout=30) == 0


def test_a_stopped_worker_releases_its_job(make_jobs: Any, tmp_path: Path) -> None:
    jobs: JobHome = make_jobs(f"sqlite:///{tmp_path / 'db.sqlite'}")
    _hold_inrelease(jobs)
    job = jobs.enqueue()
    first = jobs.start_worker("first")
    _wait_for_inrelease(jobs, job["id"])
    first.terminate()
    assert first.wait(timeout=30) == 0  # at once: it does not wait for the upstream
    released = jobs.job(job["id"])
    assert (released["state"], released["started"], released["progress"]) == (
        "queued",
        None,
        None,
    )
    second = jobs.start_worker("second")
    done = jobs.wait_job(job["id"], lambda j: j["state"] not in ("queued", "running"))
    assert done["state"] == "succeeded", done
    assert _worker_of(jobs, job["id"]).endswith(f":{second.pid}")
    second.terminate()
    assert second.wait(timeout=30) == 0


CLAIMER = textwrap.dedent("""
    import pathlib, sys, time
    from datetime import timedelta
    from sqlalchemy import func, select
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.db.models import Job
    from repoversion.db.session import transaction
    from repoversion.jobs import queue

    home, name, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    ctx = Context(load_settings(home))
    ctx.sessions  # connected and checked before the start, like the others
    (go.parent / f"ready-{name}").touch()
    while not go.exists():
        time.sleep(0.01)
    while True:
        with transaction(ctx.sessions) as s:
            got = queue.claim(s, name, queue.wall_clock(), timedelta(hours=1), ["race"])
            left = s.scalar(select(func.count()).where(Job.state == "queued"))
        if got is not None:
            print(got.id, flush=True)
            time.sleep(0.01)  # "running" it: the others claim meanwhile
        elif not left:
            break
""")


def test_racing_workers_never_take_the_same_job(jobs: JobHome, tmp_path: Path) -> None:
    """Four processes claim 60 jobs at once (SKIP LOCKED on PostgreSQL, the conditional
    UPDATE on SQLite): each job is taken exactly once."""
    from repoversion.db.session import transaction
    from repoversion.jobs import queue

    with transaction(jobs.ctx.sessions) as s:
        ids = [queue.enqueue(s, "race", {}, queue.wall_clock()).id for _ in range(60)]
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(jobs.mirror.home), f"claimer-{i}", str(go)],
            env=jobs.env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(procs):  # all imported and connected
        assert time.monotonic() < deadline, "the claimers did not start"
        time.sleep(0.02)
    go.touch()
    taken = {
        f"claimer-{i}": [int(x) for x in proc.communicate(timeout=120)[0].split()]
        for i, proc in enumerate(procs)
    }
    assert all(p.returncode == 0 for p in procs)
    everything = sorted(i for got in taken.values() for i in got)
    assert everything == ids  # none twice, none left
    assert sum(1 for got in taken.values() if got) >= 2  # they did race
    with jobs.ctx.engine.connect() as conn:
        rows: dict[int, str] = dict(conn.execute(text("SELECT id, worker FROM job")).all())
    for name, got in taken.items():
        assert all(rows[i] == name for i in got)


def test_two_workers_run_each_sync_once_on_postgresql(make_jobs: Any, pg_url: str) -> None:
    jobs: JobHome = make_jobs(pg_url)
    workers = [jobs.start_worker("one"), jobs.start_worker("two")]
    results = []
    for version in ("1.0", "2.0", "3.0"):
        jobs.archive.add(Pkg("hello", version))
        jobs.archive.publish()
        job = jobs.enqueue()
        done = jobs.wait_job(job["id"], lambda j: j["state"] in ("succeeded", "failed"))
        assert done["state"] == "succeeded", done
        results.append(done["result"]["repoversion"])
    assert results == ["1.0.0", "1.1.0", "1.2.0"]
    assert jobs.archive.requests.count(INRELEASE) == 3  # one sync per job, never two
    for proc in workers:
        os.kill(proc.pid, signal.SIGTERM)
    assert [proc.wait(timeout=30) for proc in workers] == [0, 0]
