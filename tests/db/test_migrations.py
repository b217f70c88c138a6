"""The schema belongs to alembic: upgrade, downgrade and upgrade again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from repoversion.db.models import Base, Package, Suite
from repoversion.db.session import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from tests.fixtures.archives import Pkg

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


class _LongPkg(Pkg):
    """A package whose version is too long for a file name: its pool file is named
    after the package alone (an upstream may name pool files as it likes)."""

    @property
    def filename(self) -> str:
        return f"pool/{self.component}/{self.name[:1]}/{self.name[:40]}/{self.name[:40]}.deb"


def test_columns_hold_what_debian_allows_on_postgresql(  # type: ignore[no-untyped-def]
    tmp_path, run_cli, pg_url, fixture_archive
) -> None:
    """Debian bounds no package name, version, architecture, component or suite name; a
    sync of long ones commits them whole (PostgreSQL refused VARCHAR(200) and (40))."""
    from tests.mirror.conftest import NOW, Mirror

    name = "long-" + "n" * 245
    version = "1." + "0" * 298
    arch = "arch-" + "x" * 75
    component = "component-" + "c" * 140
    suite = "suite-" + "s" * 240
    env = {"REPOVERSION_NOW": NOW, "REPOVERSION_DATABASE_URL": pg_url}
    mirror = Mirror(tmp_path / "home", run_cli, env)
    assert mirror.cli("init").code == 0
    pkg = _LongPkg(name, version, architecture=arch, component=component)
    arc = fixture_archive([pkg, Pkg("hello", "1.0", component=component)], suite=suite)
    mirror.add(arc, archs=(arch, "amd64"), components=(component,))
    assert mirror.sync()["repoversion"] == "1.0.0"
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Package.name, Package.version, Package.architecture, Package.component)
                .join(Suite, Suite.id == Package.suite_id)
                .where(Suite.name == suite)
                .order_by(Package.name)
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("hello", "1.0", "amd64", component),
        (name, version, arch, component),
    ]
    assert (len(name), len(version), len(suite)) == (250, 300, 246)


def test_0002_widens_the_columns_and_keeps_the_rows(db_url: str) -> None:
    """Rows written under 0001 survive 0002 (SQLite rebuilds the tables) and 0002 takes
    values 0001 refused."""
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    rows = [
        "INSERT INTO repoversion (id, major, minor, patch, version, state, bump, created,"
        " index_sha256, changes) VALUES (1, 1, 0, 0, '1.0.0', 's', 'major',"
        " '2025-06-01 00:00:00', 'i', '{}')",
        "INSERT INTO suite (id, archive, name) VALUES (1, 'debian', 'bookworm')",
        "INSERT INTO package (suite_id, component, kind, name, version, architecture,"
        " filename, sha256, size, added) VALUES (1, 'main', 'deb', 'hello', '1.0', 'amd64',"
        " 'pool/h.deb', 'x', 1, 1)",
    ]
    long = "1." + "0" * 298
    try:
        with engine.begin() as conn:
            for row in rows:
                conn.execute(text(row))
        upgrade(db_url)
        with engine.begin() as conn:
            conn.execute(text(rows[-1].replace("'1.0'", f"'{long}'")))
            got = conn.execute(text("SELECT name, version FROM package ORDER BY id")).all()
        assert [tuple(r) for r in got] == [("hello", "1.0"), ("hello", long)]
    finally:
        engine.dispose()
