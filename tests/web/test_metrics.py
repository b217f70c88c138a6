"""``/metrics`` of a real ``repoversion serve`` (gunicorn, two workers): requests spread over
the workers add up, a sync asked through the API shows in the sync metrics, the
database's gauges match the database; the text parses with prometheus_client's parser.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from repoversion.actions.metrics import database_gauges
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import Blob
from repoversion.db.session import transaction
from repoversion.jobs.queue import wall_clock
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror
from tests.web.promtext import Samples
from tests.web.running import Served, mirror_on_db, serving

REQUESTS = "repoversion_http_requests_total"
V_ROUTE = "/v/<ref>/<path:rest>"


def _scrape(server: Served) -> tuple[Samples, int]:
    r = server.get("/metrics")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return Samples.parse(r.text), len(r.content)


def _scrape_until(server: Served, name: str, value: float, **labels: str) -> Samples:
    """Scrape until gauge ``name`` shows ``value`` (each worker reuses the database's
    gauges for a few seconds)."""
    deadline = time.monotonic() + 30
    while True:
        samples, _ = _scrape(server)
        if samples.total(name, **labels) == value:
            return samples
        assert time.monotonic() < deadline, f"{name} stayed {samples.total(name, **labels)}"
        time.sleep(0.5)


def _blob_totals(home: Path) -> tuple[int, int]:
    ctx = Context(load_settings(home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            count, size = s.execute(select(func.count(), func.sum(Blob.size))).one()
            return int(count), int(size or 0)
    finally:
        ctx.close()


def _served_by_each(run_dir: Path, **labels: str) -> dict[int, float]:
    """pid → the requests matching ``labels`` that this worker counted, read from its own
    file in the server run's directory."""
    out: dict[int, float] = {}
    for path in run_dir.glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)], accumulate=True)
        rows = [(s.name, s.labels, s.value) for f in families for s in f.samples]
        out[int(path.stem.split("_")[-1])] = Samples(rows, {}).total(REQUESTS, **labels)
    return out


def _both_workers_listen(server: Served, run_dir: Path) -> None:
    """Ask until each worker has answered once (a worker still booting would leave all
    connections to the other)."""
    deadline = time.monotonic() + 30
    while len(_served_by_each(run_dir)) < 2:
        assert server.get("/healthz").status_code == 200
        assert time.monotonic() < deadline, "the second worker never answered"


def _wait_done(server: Served, job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        job: dict[str, Any] = server.get(f"/api/v1/syncs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stayed {job['state']}"
        time.sleep(0.2)


def test_workers_sum_and_a_sync_through_the_api_shows(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    token = json.loads(mirror.cli("token", "create", "ci", "--json").stdout)["token"]
    runs = mirror.home / "run" / "prometheus"

    with serving(mirror.home, workers=2, REPOVERSION_EMBEDDED_WORKER="false") as srv:
        run_dir = runs / f"{socket.gethostname()}-{srv.proc.pid}"
        assert run_dir.is_dir()
        _both_workers_listen(srv, run_dir)
        before, scrape_size = _scrape(srv)
        paths = ["/v/1.0.0/index.json"] * 12 + ["/v/1.0.0/debian/dists/bookworm/InRelease"] * 8
        bodies = 0
        for path in paths:  # a connection each: the kernel spreads them over the workers
            r = srv.get(path)
            assert r.status_code == 200
            bodies += len(r.content)
        for _ in range(4):
            assert srv.get("/v/1.0.0/nope/x").status_code == 404
        after, _ = _scrape(srv)

        def grew(name: str, **labels: str) -> float:
            return after.total(name, **labels) - before.total(name, **labels)

        by_worker = _served_by_each(run_dir, route=V_ROUTE, status="200")
        assert len(by_worker) == 2 and all(by_worker.values()), by_worker  # both served some
        assert sum(by_worker.values()) == len(paths)
        assert grew(REQUESTS, route=V_ROUTE, method="GET", status="200") == len(paths)
        assert grew(REQUESTS, route=V_ROUTE, method="GET", status="404") == 4
        assert grew(REQUESTS, route="/metrics", status="200") == 1
        assert grew("repoversion_http_response_bytes_total") == bodies + scrape_size
        assert after.total("repoversion_versions") == 1
        assert (after.total("repoversion_blobs"), after.total("repoversion_blob_bytes")) == (
            _blob_totals(mirror.home)
        )

        asked = requests.post(
            f"{srv.url}/api/v1/syncs",
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert asked.status_code == 202, asked.text
        queued = _scrape_until(srv, "repoversion_jobs_queued", 1, kind="sync")
        assert 0 <= queued.total("repoversion_jobs_oldest_queued_age_seconds") < 600
        assert queued.total("repoversion_sync_last_success_timestamp_seconds") == 0
    assert not run_dir.exists()  # the server removed its run's directory

    arc.add(Pkg("world", "2.0"))
    arc.publish()
    with serving(mirror.home, workers=2) as srv:  # its embedded worker runs the queued job
        job = _wait_done(srv, asked.json()["id"])
        assert job["state"] == "succeeded" and job["result"]["new"] is True, job
        samples = _scrape_until(srv, "repoversion_versions", 2)
        assert samples.types["repoversion_sync_duration_seconds"] == "histogram"
        count = "repoversion_sync_duration_seconds_count"
        assert samples.total(count, result="new") == 1
        assert samples.total(count) == 1
        assert samples.total("repoversion_sync_duration_seconds_sum", result="new") > 0
        inf = samples.total("repoversion_sync_duration_seconds_bucket", result="new", le="+Inf")
        assert inf == 1
        assert samples.total("repoversion_sync_last_success_timestamp_seconds") > 0
        assert samples.total("repoversion_jobs_queued") == 0
        # a new run counts from zero: the first run's requests are not in this one's
        assert samples.total(REQUESTS, route=V_ROUTE) == 0


mirror_pg = mirror_on_db


def test_database_gauges_on_both_databases(mirror_pg: Mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0")])
    mirror_pg.add(arc)
    mirror_pg.sync()
    ctx = Context(load_settings(mirror_pg.home, environ={}))
    try:
        from repoversion import actions

        job = actions.enqueue_sync(ctx, {})
        with transaction(ctx.sessions) as s:
            gauges = {
                (g.name, tuple(g.labels.items())): g.value for g in database_gauges(s, wall_clock())
            }
            blobs, size = s.execute(select(func.count(), func.sum(Blob.size))).one()
    finally:
        ctx.close()
    assert job["state"] == "queued"
    assert gauges[("repoversion_versions", ())] == 1
    assert gauges[("repoversion_blobs", ())] == blobs > 0
    assert gauges[("repoversion_blob_bytes", ())] == size > 0
    assert gauges[("repoversion_jobs_queued", (("kind", "sync"),))] == 1
    assert gauges[("repoversion_jobs_running", (("kind", "sync"),))] == 0
    assert 0 <= gauges[("repoversion_jobs_oldest_queued_age_seconds", ())] < 600
    assert gauges[("repoversion_sync_last_success_timestamp_seconds", ())] == 0


MULTIPROCESS_RUN = """
import os, sys
from pathlib import Path
from repoversion import metrics
with metrics.multiprocess_run(Path(sys.argv[1])) as d:
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(d)
    metrics.count("repoversion_fetch_downloads_total")
    pid = os.fork()
    if pid == 0:  # a child leaving the block (as a gunicorn worker does) removes nothing
        metrics.count("repoversion_fetch_downloads_total", 2)
        sys.exit(0)
    os.waitpid(pid, 0)
    metrics.mark_dead(pid)
    assert d.is_dir()
    print(metrics.exposition().decode())
assert not d.exists() and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
"""


def test_a_server_run_has_its_own_directory(tmp_path: Path) -> None:
    host = socket.gethostname()
    parent = tmp_path / "prometheus"
    for name in (f"{host}-99999999", f"{host}-1", "elsewhere-99999999"):
        (parent / name).mkdir(parents=True)
    out = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_RUN, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Samples.parse(out).total("repoversion_fetch_downloads_total") == 3  # child's kept
    # a dead run of this host was removed; a live one and another host's were not
    assert sorted(p.name for p in parent.iterdir()) == ["elsewhere-99999999", f"{host}-1"]
