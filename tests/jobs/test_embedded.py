"""``repoversion serve`` runs one job worker of its own, and stops it with itself
(tests/web/test_cluster_jobs.py has server nodes with ``embedded_worker = false``)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.jobs.conftest import REPOVERSION, SPAWNED, JobHome, children_of, wait_ready
from tests.web.test_two_nodes import _free_port


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has left already)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _serve(jobs: JobHome, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (jobs.mirror.home / "serve.log").open("ab")
    proc = subprocess.Popen(
        [REPOVERSION, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=jobs.env(**env),
        stdout=log,
        stderr=log,
    )
    log.close()
    jobs.procs.append(proc)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    return proc, base


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 30
    while _running(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.1)


def test_serve_runs_a_worker_and_stops_it(make_jobs: Any, tmp_path: Path) -> None:
    jobs: JobHome = make_jobs(f"sqlite:///{tmp_path / 'db.sqlite'}")
    serve, base = _serve(jobs)
    # gunicorn is ready before its workers answer: the job worker exists by now
    children = children_of(serve.pid)
    spawned = [pid for pid, cmd in children.items() if SPAWNED in cmd]
    assert len(spawned) == 1
    # A gunicorn worker that leaves (forked from the server, it knows of the job worker)
    # leaves the job worker alone; gunicorn starts another.
    master = (Path("/proc") / str(serve.pid) / "cmdline").read_bytes()
    web_worker = next(pid for pid, cmd in children.items() if cmd == master)
    os.kill(web_worker, signal.SIGTERM)
    _wait_gone(web_worker)
    wait_ready(base, serve)
    job = jobs.enqueue()
    done = jobs.wait_job(job["id"], lambda j: j["state"] in ("succeeded", "failed"))
    assert done["state"] == "succeeded" and done["result"]["repoversion"] == "1.0.0"
    with jobs.ctx.engine.connect() as conn:
        holder = conn.execute(text("SELECT worker FROM job")).scalar_one()
    assert holder.endswith(f":{spawned[0]}")
    serve.terminate()
    assert serve.wait(timeout=60) == 0
    _wait_gone(spawned[0])
    assert b"Traceback" not in (jobs.mirror.home / "serve.log").read_bytes()
