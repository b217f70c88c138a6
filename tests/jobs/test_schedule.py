"""``sync_every``: workers queue a sync once the last one started long enough ago, and
``list_syncs`` shows the last and the next run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from repoversion import actions
from repoversion.config import load_settings, parse_duration, parse_instant
from repoversion.errors import ConfigError
from repoversion.timefmt import iso
from tests.jobs.conftest import JobHome


def _started_earlier(jobs: JobHome, job_id: int, by: timedelta) -> None:
    """Move a job's start back in time, as if it had run ``by`` ago."""
    with jobs.ctx.engine.begin() as conn:
        started = conn.execute(text("SELECT started FROM job WHERE id = :i"), {"i": job_id})
        value = started.scalar_one()
        if isinstance(value, str):  # SQLite keeps text
            value = datetime.fromisoformat(value)
        conn.execute(
            text("UPDATE job SET started = :s WHERE id = :i"), {"s": value - by, "i": job_id}
        )


def test_the_schedule_queues_a_sync_when_due(make_jobs: Any, db_url: str) -> None:
    jobs: JobHome = make_jobs(db_url, REPOVERSION_SYNC_EVERY="1h")
    before = actions.list_syncs(jobs.ctx)
    assert before["items"] == []
    assert before["schedule"]["every"] == "1h" and before["schedule"]["last"] is None
    assert before["schedule"]["next"] is not None  # due now: nothing ever ran
    # Nothing queued: the worker queues one, and runs it.
    first = jobs.mirror.cli("worker", "--once")
    assert first.code == 0, first.stderr
    (job,) = actions.list_syncs(jobs.ctx)["items"]
    assert job["state"] == "succeeded" and job["result"]["repoversion"] == "1.0.0"
    schedule = actions.list_syncs(jobs.ctx)["schedule"]
    assert schedule["last"] == job["started"]
    assert schedule["next"] == iso(parse_instant(job["started"]) + parse_duration("1h"))
    # Not due: nothing is queued.
    idle = jobs.mirror.cli("worker", "--once")
    assert "No job was queued." in idle.stderr
    assert len(actions.list_syncs(jobs.ctx)["items"]) == 1
    # As if that sync had started two hours ago: due, so the next worker queues one.
    _started_earlier(jobs, job["id"], timedelta(hours=2))
    assert jobs.mirror.cli("worker", "--once").code == 0
    items = actions.list_syncs(jobs.ctx)["items"]
    assert [j["id"] for j in items] == [job["id"] + 1, job["id"]]
    assert items[0]["state"] == "succeeded" and items[0]["result"]["new"] is False


def test_without_a_schedule_workers_queue_nothing(jobs: JobHome) -> None:
    assert "No job was queued." in jobs.mirror.cli("worker", "--once").stderr
    assert actions.list_syncs(jobs.ctx) == {
        "items": [],
        "schedule": {"every": None, "last": None, "next": None},
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6h", 21600), ("90m", 5400), ("1d12h", 129600), ("30s", 30), ("1h30m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["", "6", "h", "0h", "6x", "1m1h", "-1h"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sync_every_setting(tmp_path: Path) -> None:
    """``[sync] every`` in the toml file, as the issue writes it, or the flat name."""
    (tmp_path / "repoversion.toml").write_text('[sync]\nevery = "6h"\n')
    assert load_settings(tmp_path, environ={}).sync_every == "6h"
    env = {"REPOVERSION_SYNC_EVERY": "30m", "REPOVERSION_EMBEDDED_WORKER": "false"}
    settings = load_settings(tmp_path, environ=env)
    assert (settings.sync_every, settings.embedded_worker) == ("30m", False)
    with pytest.raises(ConfigError, match="REPOVERSION_SYNC_EVERY must be a duration like 6h"):
        load_settings(tmp_path, environ={"REPOVERSION_SYNC_EVERY": "often"})
    with pytest.raises(ConfigError, match="REPOVERSION_JOB_LEASE must be at least 2"):
        load_settings(tmp_path, environ={"REPOVERSION_JOB_LEASE": "1"})
    (tmp_path / "repoversion.toml").write_text('[sync]\nevry = "6h"\n')
    with pytest.raises(ConfigError, match="Unknown setting 'sync_evry'"):
        load_settings(tmp_path, environ={})
