"""The homes of the history simulation (tests/bench/history.py): each on a fresh
PostgreSQL database, synced in this process by ``run_sync``, with the wall and CPU time
of each commit.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.bench.api import PG_ADMIN
from tests.bench.sync import RvHome, _env


class Home:
    """A home on a fresh PostgreSQL database, its archive the loopback upstream, and its
    in-process context (what ``repoversion sync`` builds)."""

    def __init__(self, path: Path, db_url: str, upstream_url: str, keyring: Path) -> None:
        from repoversion.config import load_settings
        from repoversion.context import Context

        path.mkdir()
        (path / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
        RvHome(path, upstream_url, keyring)  # init, archive add (the CLI)
        self.path = path
        self.ctx = Context(load_settings(path, environ=_env()))

    def sync(self) -> tuple[Any, float, float, float]:
        """``run_sync`` once: its result, its seconds, and the wall and CPU seconds of its
        commit (CPU: this thread's and the server processes' of this database's
        connections, which the load of other processes on the machine does not change)."""
        from repoversion.mirror.sync import run_sync

        backends = self.backends()
        marks: dict[int, tuple[float, float]] = {}

        def progress(stage: str, done: int, _total: int) -> None:
            if stage == "commit":
                cpu = time.thread_time() + cpu_seconds(backends)
                marks[done] = (time.perf_counter(), cpu)

        t0 = time.perf_counter()
        result = run_sync(self.ctx, progress=progress)
        took = time.perf_counter() - t0
        (w0, c0), (w1, c1) = marks[0], marks[1]
        return result, took, w1 - w0, c1 - c0

    def backends(self) -> list[int]:
        """Server process ids of this database's client connections (the pool's)."""
        from sqlalchemy import text

        sql = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        with self.ctx.engine.connect() as conn:
            return [int(pid) for pid in conn.execute(text(sql)).scalars()]

    def scalar(self, sql: str) -> Any:
        from sqlalchemy import text

        with self.ctx.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def db_size(self) -> int:
        return int(self.scalar("SELECT pg_database_size(current_database())"))

    def table_sizes(self, top: int = 8) -> list[tuple[str, int]]:
        from sqlalchemy import text

        sql = (
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT :top"
        )
        with self.ctx.engine.connect() as conn:
            return [(str(n), int(b)) for n, b in conn.execute(text(sql), {"top": top})]

    def autovacuum(self) -> tuple[int, int]:
        """When the server runs without autovacuum (the tests' server does), do what it
        would do now with its default settings: VACUUM a table once its dead rows exceed
        50 + 20 % of its rows (or its inserts 1,000 + 20 %), ANALYZE it once its changed
        rows exceed 50 + 10 %. Returns how many (VACUUM, ANALYZE) ran.
        """
        from sqlalchemy import text

        if self.scalar("SHOW autovacuum") == "on":
            return 0, 0
        sql = (
            "SELECT s.relname, s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze, "
            "greatest(c.reltuples, 0) FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid"
        )
        done = [0, 0]
        with self.ctx.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table, dead, inserted, changed, rows in conn.execute(text(sql)).all():
                vacuum = dead > 50 + 0.2 * rows or inserted > 1000 + 0.2 * rows
                analyze = changed > 50 + 0.1 * rows
                if vacuum:
                    conn.execute(text(f'VACUUM {"(ANALYZE) " if analyze else ""}"{table}"'))
                elif analyze:
                    conn.execute(text(f'ANALYZE "{table}"'))
                done[0] += vacuum
                done[1] += analyze
        return done[0], done[1]

    def close(self) -> None:
        self.ctx.close()


@contextlib.contextmanager
def fresh_database(keep: bool) -> Iterator[str]:
    """The URL of a new PostgreSQL database, dropped afterwards unless ``keep``."""
    from sqlalchemy import create_engine, text

    name = f"rv_bench_history_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url
    finally:
        if keep:
            print(f"(kept the database {url})", flush=True)
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of processes ``pids`` (those still running)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
