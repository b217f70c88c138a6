"""A committed repoversion survives power loss on SQLite, as it does on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from repoversion.db.session import make_engine

FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA


def test_sqlite_commits_are_synchronous_full(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == FULL
    finally:
        engine.dispose()
