"""The schema belongs to alembic: upgrade, downgrade and upgrade again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from repoversion.db.models import Base
from repoversion.db.session import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

TABLES = {
    "archive",
    "blob",
    "repoversion",
    "suite",
    "suite_release",
    "index_file",
    "package",
    "source_file",
    "tag",
    "tag_event",
    "job",
    "token",
    "derived",
}


def test_upgrade_downgrade_roundtrip(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(db_url)
        assert current_revision(engine) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
        downgrade(db_url, "base")
        assert current_revision(engine) is None
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade(db_url)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    """What alembic builds is exactly what the typed models declare (no drift)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_schema_head_constant_is_alembics_head() -> None:
    from repoversion.db.session import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD


def test_outdated_schema_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from repoversion.db.session import check_schema
    from repoversion.errors import RepoversionError

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('0000')"))
    with pytest.raises(RepoversionError, match="db upgrade"):
        check_schema(engine)
    engine.dispose()
