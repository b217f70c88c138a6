"""A sync as a job, on SQLite and PostgreSQL: queued, run by ``repoversion worker``, and
its result, progress or error sentence recorded; one sync at a time."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from repoversion import actions
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.jobs import kinds
from repoversion.jobs.worker import UNEXPECTED
from repoversion.versions.synclock import RUNNING, sync_lock
from tests.jobs.conftest import JobHome


def test_a_queued_sync_is_run_by_a_worker(jobs: JobHome) -> None:
    job = jobs.enqueue()
    assert {k: job[k] for k in ("kind", "state", "progress", "result", "error")} == {
        "kind": "sync",
        "state": "queued",
        "progress": None,
        "result": None,
        "error": None,
    }
    assert job["created"].endswith("Z") and job["started"] is None
    result = jobs.mirror.cli("worker", "--once")
    assert result.code == 0, result.stderr
    assert f"Job {job['id']} (sync) succeeded." in result.stderr
    done = jobs.job(job["id"])
    assert done["state"] == "succeeded" and done["error"] is None
    assert done["started"] and done["finished"]
    # the result is the `sync --json` object of the version the job committed
    assert done["result"]["repoversion"] == "1.0.0" and done["result"]["new"] is True
    assert done["result"]["state"] == jobs.mirror.show("1.0.0")["state"]
    assert done["result"]["changes"]["added"] == 1
    # progress: the one Packages index the sync read, its uncompressed bytes
    packages = jobs.archive.read("dists/bookworm/main/binary-amd64/Packages")
    assert done["progress"] == {"files": 1, "bytes": len(packages)}
    assert actions.list_syncs(jobs.ctx)["items"] == [done]
    # nothing left: a second --once says so and succeeds
    again = jobs.mirror.cli("worker", "--once")
    assert again.code == 0 and "No job was queued." in again.stderr


def test_a_failed_sync_records_its_sentence(jobs: JobHome) -> None:
    jobs.archive.server.fail("*/dists/bookworm/*Release*", status=404)  # type: ignore[union-attr]
    sentence = jobs.mirror.sync_fails().removeprefix("error: ")
    job = jobs.enqueue()
    result = jobs.mirror.cli("worker", "--once")
    assert result.code == 1
    assert f"error: Job {job['id']} (sync) failed: {sentence}" in result.stderr
    failed = jobs.job(job["id"])
    assert failed["state"] == "failed" and failed["result"] is None
    assert failed["error"] == sentence
    assert "Traceback" not in result.stderr


def test_a_second_sync_is_refused_naming_the_first(jobs: JobHome) -> None:
    first = jobs.enqueue()
    with pytest.raises(Conflict, match=f"Sync job {first['id']} is already queued") as info:
        jobs.enqueue(bump="major")
    assert info.value.job_id == first["id"]  # type: ignore[attr-defined]
    assert info.value.status == 409
    assert jobs.mirror.cli("worker", "--once").code == 0
    # once it has ended, the next is queued
    second = jobs.enqueue(bump="major")
    assert second["id"] > first["id"] and second["state"] == "queued"


def test_concurrent_requests_queue_one_sync(jobs: JobHome) -> None:
    """The check and the insert share one lock: eight racing requests queue one job."""
    start = threading.Barrier(8)
    outcomes: list[Any] = []

    def request() -> None:
        actions.list_syncs(jobs.ctx)  # connected before the race, not during it
        start.wait()
        try:
            outcomes.append(jobs.enqueue())
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queued = [o for o in outcomes if isinstance(o, dict)]
    assert len(queued) == 1
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refused) == 7
    assert {o.job_id for o in refused} == {queued[0]["id"]}  # type: ignore[attr-defined]
    assert [j["id"] for j in actions.list_syncs(jobs.ctx)["items"]] == [queued[0]["id"]]


def test_a_sync_already_running_fails_the_job_once(jobs: JobHome) -> None:
    """A `repoversion sync` holding the sync lock: the job fails with that sentence and is
    not retried."""
    job = jobs.enqueue()
    with sync_lock(jobs.ctx.engine):
        result = jobs.mirror.cli("worker", "--once")
    assert result.code == 1
    failed = jobs.job(job["id"])
    assert (failed["state"], failed["error"]) == ("failed", RUNNING)
    again = jobs.mirror.cli("worker", "--once")
    assert "No job was queued." in again.stderr
    assert jobs.job(job["id"]) == failed


def test_bad_parameters_and_unknown_jobs_are_refused(jobs: JobHome) -> None:
    with pytest.raises(InvalidInput, match="bump must be one of"):
        jobs.enqueue(bump="huge")
    with pytest.raises(InvalidInput, match="Unknown sync parameter 'force'"):
        jobs.enqueue(force=True)
    with pytest.raises(InvalidInput, match="ARCHIVE/SUITE"):
        jobs.enqueue(allow_releaseinfo_change=["debian"])
    with pytest.raises(NotFound, match=r"No job 99\."):
        jobs.job(99)
    with pytest.raises(InvalidInput, match="limit"):
        actions.list_syncs(jobs.ctx, limit=0)
    assert actions.list_syncs(jobs.ctx)["items"] == []


def test_an_unexpected_error_is_a_generic_sentence_and_a_logged_traceback(
    make_jobs: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    jobs = make_jobs(f"sqlite:///{tmp_path / 'db.sqlite'}")

    def broken(*_: Any) -> dict[str, Any]:
        raise KeyError("a bug")

    monkeypatch.setitem(kinds.RUNNERS, "sync", (broken, kinds.SyncProgress))
    job = jobs.enqueue()
    with caplog.at_level(logging.ERROR, logger="repoversion.jobs.worker"):
        result = jobs.mirror.cli("worker", "--once")
    assert result.code == 1
    failed = jobs.job(job["id"])
    assert failed["error"] == UNEXPECTED.format(id=job["id"])
    assert "KeyError" not in failed["error"]
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].exc_info[0] is KeyError  # type: ignore[index]


def test_a_job_whose_workers_keep_dying_is_given_up(jobs: JobHome) -> None:
    """Taken three times, each time its worker died (its lease passed): the next worker
    fails it instead of dying in turn."""
    job = jobs.enqueue()
    with jobs.ctx.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE job SET state = 'running', attempts = 3, worker = 'gone:1',"
                " lease_until = :past WHERE id = :i"
            ),
            {"past": datetime.now(UTC) - timedelta(minutes=1), "i": job["id"]},
        )
    result = jobs.mirror.cli("worker", "--once")
    assert "No job was queued." in result.stderr
    failed = jobs.job(job["id"])
    assert failed["state"] == "failed"
    assert failed["error"] == "Its worker stopped 3 times before finishing it, so it was given up."
    assert not jobs.mirror.versions()  # it did not run again
