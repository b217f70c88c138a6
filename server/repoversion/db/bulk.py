"""Many rows in or out through the database driver, inside a session's transaction.

A first sync writes about 60,000 package rows and a re-sync reads as many digests back;
the ORM's per-row work costs more there than the database itself. PostgreSQL gets ``COPY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    ignore_existing: bool = False,
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``.

    :param ignore_existing: skip rows whose key exists (another writer may have added them).
    """
    if not rows:
        return
    conn = session.connection()
    driver = conn.connection.driver_connection
    assert driver is not None
    cur = driver.cursor()
    names = ", ".join(columns)
    try:
        if ignore_existing:
            pg = conn.dialect.name == "postgresql"
            marks = ", ".join(("%s" if pg else "?") for _ in columns)
            verb = "INSERT" if pg else "INSERT OR IGNORE"
            tail = " ON CONFLICT DO NOTHING" if pg else ""
            cur.executemany(f"{verb} INTO {table} ({names}) VALUES ({marks}){tail}", rows)
        elif conn.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    finally:
        cur.close()


def fetch_rows(session: Session, query: Select[Any]) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as plain tuples, read through the driver."""
    conn = session.connection()
    # expanding parameters (``IN (…)``) are rendered as one placeholder per value
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    driver = conn.connection.driver_connection
    assert driver is not None
    cur = driver.cursor()
    try:
        params = compiled.params
        if conn.dialect.paramstyle == "qmark":
            args: Any = tuple(params[name] for name in compiled.positiontup or ())
        else:
            args = params
        cur.execute(str(compiled), args)
        return [tuple(row) for row in cur.fetchall()]
    finally:
        cur.close()


def next_ids(session: Session, table: str, count: int) -> int:
    """The first of ``count`` fresh ids for rows of ``table`` inserted with explicit ids.

    The caller must hold the lock that makes it the table's only writer (the commit
    lock); :func:`advance_sequence` then tells PostgreSQL's sequence about them.
    """
    conn = session.connection()
    top = conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar()
    return int(top or 0) + 1 if count else 0


def advance_sequence(session: Session, table: str) -> None:
    """Move PostgreSQL's id sequence of ``table`` past the ids inserted explicitly."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return  # SQLite takes max(rowid) + 1 by itself
    conn.exec_driver_sql(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT coalesce(max(id), 1) FROM {table}))"
    )
