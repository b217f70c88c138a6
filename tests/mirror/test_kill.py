"""A sync killed (SIGKILL) at any point leaves earlier versions intact; the next one completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror


def _count(url: str, query: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(query)).scalar() or 0)
    finally:
        engine.dispose()


CHILD = textwrap.dedent("""
    import os, signal, sys
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.mirror import scopes, sync
    from repoversion.versions import commit

    home, point = sys.argv[1], sys.argv[2]

    def die_after(owner, name):
        original = getattr(owner, name)
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
            return result
        setattr(owner, name, wrapper)

    if point == "after-index-download":
        die_after(sync.Sync, "_index")
    elif point == "after-parse":
        die_after(scopes.ScopeReader, "read")
    elif point == "after-rows-before-commit":
        die_after(commit.Committer, "_record_blobs")
    elif point == "after-reserving-version":
        die_after(commit.Committer, "_reserve_id")
    sync.run_sync(Context(load_settings(home)))
    print("not killed")
""")


@pytest.mark.parametrize(
    "point",
    ["after-index-download", "after-parse", "after-reserving-version", "after-rows-before-commit"],
)
def test_killed_sync_commits_nothing_and_the_next_completes(  # type: ignore[no-untyped-def]
    mirror_on_db: Mirror, db_url: str, fixture_archive, point: str
) -> None:
    mirror, home, url = mirror_on_db, mirror_on_db.home, db_url
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0")])
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    before = mirror.show("1.0.0")
    arc.add(Pkg("hello", "2.0"))
    arc.remove("world")
    arc.publish()
    env = {**os.environ, **mirror.env}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(mirror.home), point],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.stdout, proc.stderr)
    assert mirror.versions() == ["1.0.0"]
    assert mirror.show("1.0.0") == before
    assert _count(url, "SELECT count(*) FROM repoversion") == 1
    assert _count(url, "SELECT count(*) FROM package WHERE removed IS NOT NULL") == 0
    out = mirror.sync()
    tmp = home / "blobs" / "tmp"
    assert not list(tmp.glob("*.part")) if tmp.is_dir() else True  # the sync swept them
    assert (out["repoversion"], out["bump"]) == ("2.0.0", "major")
    assert mirror.versions() == ["2.0.0", "1.0.0"]
    assert mirror.show("1.0.0") == before
