"""Engines, sessions and schema upgrades.

SQLite runs in WAL mode with ``synchronous=FULL`` (durable commits), foreign keys on and
a busy timeout, so a server and a sync can share one database file. Schema changes go
through alembic only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from repoversion.errors import ConfigError, RepoversionError, from_exception

#: alembic's script directory: the top-level migrations/, installed as the
#: ``repoversion.migrations`` package (a wheel carries it; an editable install maps it).
MIGRATIONS_DIR = Path(str(files("repoversion.migrations")))


def normalise_url(url: str) -> str:
    """Use psycopg 3 for every PostgreSQL URL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed repoversion survives power loss; under WAL, NORMAL may lose the
    # last commits, and their numbers would be issued again while caches keep the first
    # bytes as immutable (SPEC section 8)
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 16 MB of page cache (SQLite's default is 2 MB), filled only as pages are read: a
    # first sync inserts 130,000 package rows in name and filename order, and with 2 MB
    # their index pages spilled to the WAL mid-transaction (1.1 s more CPU per 130,000
    # rows, docs/benchmarks.md)
    cur.execute("PRAGMA cache_size=-16384")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite files get WAL and their directory is created.

    :raises ConfigError: the URL is not a database URL SQLAlchemy understands.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database_url {url!r} is not a valid database URL.") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` (alembic).

    :raises RepoversionError: the database cannot be reached or migrated.
    """
    from alembic import command

    db_file = sqlite_path(url)
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        raise database_error(exc) from None


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    assert head is not None
    return head


#: The newest migration. Checked against alembic's own view by a test; kept as a constant
#: so every command does not pay for importing alembic (0.15 s) to check the schema.
SCHEMA_HEAD = "0004"


def database_error(exc: SQLAlchemyError) -> RepoversionError:
    """One sentence for a database failure: busy, full, or out of reach.

    :param exc: what SQLAlchemy raised.
    """
    known = from_exception(exc)
    if known is not None:
        return known
    # drivers explain over several lines; the first one says it
    lines = str(getattr(exc, "orig", None) or exc).splitlines()
    return RepoversionError(f"Cannot reach the database: {lines[0] if lines else exc}.")


def _stored_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(value) if value is not None else None


def check_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not at alembic's head.

    :raises RepoversionError: the schema is missing or outdated.
    """
    db_file = sqlite_path(str(engine.url))
    if db_file is not None and not db_file.exists():
        raise RepoversionError(f"No database at {db_file}; run `repoversion init`.")
    try:
        rev = _stored_revision(engine)
        tables = inspect(engine).get_table_names() if rev is None else []
    except SQLAlchemyError as exc:
        raise database_error(exc) from None
    if rev is None:
        if "archive" in tables:
            raise RepoversionError("The database has tables but no alembic revision.")
        raise RepoversionError("The database is not initialised; run `repoversion init`.")
    if rev != SCHEMA_HEAD:
        raise RepoversionError(
            f"The database schema is at {rev}, not {SCHEMA_HEAD}; run `repoversion db upgrade`."
        )
