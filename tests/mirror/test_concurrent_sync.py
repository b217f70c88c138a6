"""Two syncs started at once: one version, and one clear "a sync is already running"
from the second, which downloads nothing. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror

HOLD = 2.5  # seconds the upstream holds the first sync's InRelease


def test_a_second_sync_is_refused_while_one_runs(  # type: ignore[no-untyped-def]
    mirror_on_db: Mirror, fixture_archive
) -> None:
    mirror, home, env = mirror_on_db, mirror_on_db.home, mirror_on_db.env
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    server = arc.server
    server.add_rule("*/InRelease", delay=HOLD, times=1)
    server.clear_log()
    first = subprocess.Popen(
        [Path(sys.executable).parent / "repoversion", "--home", home, "sync", "--json"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)  # the first sync holds the lock once it asks upstream
        assert server.requests, "the first sync never reached upstream"
        seen = len(server.requests)
        second = mirror.cli("sync", "--json")
        assert second.code != 0
        assert second.stderr.strip() == (
            "error: A sync is already running on this database; wait for it to finish."
        )
        assert len(server.requests) == seen  # the second downloaded nothing
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert '"repoversion": "1.0.0"' in out
    assert mirror.versions() == ["1.0.0"]
    assert mirror.sync()["new"] is False  # the lock was released
