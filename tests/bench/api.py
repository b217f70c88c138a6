"""API benchmark: what the read endpoints answer in on the corpus, and how fast the CLI starts.

On a home holding two corpus versions (the corpus's bookworm main amd64, 63,440 packages,
then the 1 %-churn state tests/bench/sync.py derives from it, signed with a throwaway key),
once with SQLite and once with PostgreSQL, ``repoversion serve`` answers over HTTP
(keep-alive, loopback; median of ``--api-repeat`` requests after one warm-up):

- the first page of the newer version's packages (``/versions/<v>/packages``, the API's
  default page), and for reference a page of 1,000;
- the diff between the two versions (``/versions/<a>/diff/<b>``), full and
  ``?summary=true``;
- a package's history (``/packages/<name>/history``) for a package every version holds
  (``openssl``) and for one the churn upgraded;

each against a target of 100 ms. Then the CLI's start-up, as a user runs it (wall time of
the console script, median of ``--api-repeat`` runs): ``repoversion --help`` and a remote
``repoversion versions --server URL``, each against 0.3 s.

Every answer measured is checked first (status 200 and what it must hold).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.bench.common import Row, StaticServer, fmt_s, run_measured, scratch, venv_bin
from tests.bench.http import repoversion_serve, running
from tests.bench.sync import RvHome, Upstreams
from tests.fixtures.corpus import corpus_dir

NAME = "api"
#: issue 10: each read endpoint on the corpus, and the CLI's start-up
API_TARGET_S = 0.100
CLI_TARGET_S = 0.3
PG_ADMIN = os.environ.get(
    "REPOVERSION_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: a package every version of the corpus holds
STEADY = "openssl"


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--api-repeat",
        type=int,
        default=int(os.environ.get("REPOVERSION_BENCH_REPEAT_API", "15")),
        help="requests (and CLI runs) per figure; medians are reported (default 15)",
    )
    group.add_argument(
        "--api-databases",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )


# -- the databases ---------------------------------------------------------------------------
@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for the home's SQLite file, else the URL of a fresh PostgreSQL database,
    dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    from sqlalchemy import create_engine, text

    name = f"rv_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def two_versions(home: RvHome, ups: Upstreams, srv: StaticServer) -> list[dict[str, Any]]:
    """Sync the corpus, then its churned state; each sync's ``--json`` object."""
    made = []
    for state in ups.states[:2]:
        srv.root = state.root
        out = home.cli()
        if not out.extra.get("new"):
            raise RuntimeError(f"the sync of state {state.index} made no new version: {out.extra}")
        made.append(out.extra)
        print(f"  synced state {state.index}: {out.extra['repoversion']} in {fmt_s(out.wall)}")
    return made


# -- measuring -------------------------------------------------------------------------------
class Client:
    """One keep-alive HTTP/1.1 connection to the server."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[float, Any]:
        """Seconds from request to the whole body read, and the JSON body.

        :raises RuntimeError: not a 200.
        """
        t0 = time.perf_counter()
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        took = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"GET {path} answered {resp.status}: {body[:300]!r}")
        return took, json.loads(body)

    def median(self, path: str, repeat: int, check: Callable[[Any], str | None]) -> float:
        _, first = self.get(path)  # warm-up, and the answer checked
        problem = check(first)
        if problem:
            raise RuntimeError(f"GET {path}: {problem}")
        return statistics.median(self.get(path)[0] for _ in range(repeat))

    def close(self) -> None:
        self.conn.close()


def _expect(**want: Any) -> Callable[[Any], str | None]:
    def check(body: Any) -> str | None:
        for key, value in want.items():
            got = body.get(key) if isinstance(body, dict) else None
            if callable(value) and not value(got):
                return f"unexpected {key}: {str(got)[:200]}"
            if not callable(value) and got != value:
                return f"{key} is {str(got)[:200]}, expected {value}"
        return None

    return check


def api_rows(kind: str, port: int, made: list[dict[str, Any]], repeat: int) -> list[Row]:
    a, b = made[0]["repoversion"], made[1]["repoversion"]
    counts = made[1]["changes"]
    client = Client(port)
    rows: list[Row] = []
    try:
        _, diff = client.get(f"/api/v1/versions/{a}/diff/{b}")
        if not diff["upgraded"]:
            raise RuntimeError(f"the diff {a} → {b} upgraded nothing: {diff['counts']}")
        upgraded = diff["upgraded"][0]["name"]
        measures: list[tuple[str, str, Callable[[Any], str | None], float | None]] = [
            (
                "first page of packages",
                f"/api/v1/versions/{b}/packages",
                _expect(items=lambda i: isinstance(i, list) and len(i) > 0, next=bool),
                API_TARGET_S,
            ),
            (
                "a page of 1,000 packages",
                f"/api/v1/versions/{b}/packages?limit=1000",
                _expect(items=lambda i: isinstance(i, list) and len(i) == 1000),
                None,
            ),
            (
                "diff, full",
                f"/api/v1/versions/{a}/diff/{b}",
                _expect(counts=counts),
                API_TARGET_S,
            ),
            (
                "diff, summary",
                f"/api/v1/versions/{a}/diff/{b}?summary=true",
                _expect(counts=counts, added=None),
                API_TARGET_S,
            ),
            (
                f"history of {STEADY}",
                f"/api/v1/packages/{STEADY}/history",
                lambda h: None if isinstance(h, list) and h else f"no history: {h}",
                API_TARGET_S,
            ),
            (
                f"history of {upgraded} (upgraded)",
                f"/api/v1/packages/{upgraded}/history",
                lambda h: None if isinstance(h, list) and len(h) >= 2 else f"one line only: {h}",
                API_TARGET_S,
            ),
        ]
        for label, path, check, target in measures:
            took = client.median(path, repeat, check)
            print(f"  {kind}: {label}: {fmt_s(took)}", flush=True)
            rows.append(_row(f"{kind}: {label}", took, target))
    finally:
        client.close()
    return rows


def _row(measure: str, took: float, target: float | None) -> Row:
    if target is None:
        return Row(NAME, measure, fmt_s(took))
    ratio = took / target
    return Row(
        NAME, measure, f"{fmt_s(took)} ({ratio:.2f} of target)", f"< {fmt_s(target)}", ratio < 1
    )


def cli_rows(url: str, repeat: int) -> list[Row]:
    """Wall time of ``repoversion --help`` and of a remote ``versions``, as a user runs them."""
    rv = venv_bin("repoversion")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    rows: list[Row] = []
    for label, argv in (
        ("repoversion --help", [rv, "--help"]),
        ("repoversion versions --server URL", [rv, "versions", "--server", url]),
    ):
        walls = []
        for _ in range(repeat + 1):
            m = run_measured(argv, env=env).check()
            walls.append(m.wall)
        took = statistics.median(walls[1:])  # the first run warms the page cache
        print(f"  CLI: {label}: {fmt_s(took)}", flush=True)
        rows.append(_row(f"CLI: {label} (wall)", took, CLI_TARGET_S))
    return rows


# -- the run -----------------------------------------------------------------------------------
def run(opts: argparse.Namespace) -> list[Row]:
    repeat = max(3, int(getattr(opts, "api_repeat", 15)))
    kinds = [k.strip() for k in str(getattr(opts, "api_databases", "sqlite,postgresql")).split(",")]
    unknown = sorted(set(kinds) - {"sqlite", "postgresql"})
    if unknown:
        raise ValueError(f"--api-databases: unknown {unknown}; known: sqlite, postgresql")
    corpus_dir()  # one sentence when the corpus is missing
    rows: list[Row] = [Row(NAME, "requests per figure (median)", str(repeat))]
    with scratch("rv-bench-api-") as base:
        ups = Upstreams(base, rounds=1)
        try:
            print("preparing the corpus and its 1%-churn state …", flush=True)
            ups.prepare()
            with StaticServer(ups.states[0].root) as srv:
                for i, kind in enumerate(kinds):
                    with database(kind) as db_url:
                        rows += _one_database(base, kind, db_url, ups, srv, repeat, cli=i == 0)
        finally:
            ups.close()
    return rows


def _one_database(
    base: Path,
    kind: str,
    db_url: str | None,
    ups: Upstreams,
    srv: StaticServer,
    repeat: int,
    cli: bool,
) -> list[Row]:
    """A home on that database with two versions, served: the API rows, and the CLI rows
    when ``cli`` (a remote ``versions`` needs a server)."""
    home = base / f"home-{kind}"
    home.mkdir()
    if db_url is not None:
        (home / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
    print(f"{kind}: two versions of the corpus", flush=True)
    made = two_versions(RvHome(home, f"{srv.url}/debian", ups.keyring), ups, srv)
    proc, served_url, port = repoversion_serve(
        base, home, 2, f"serve-{kind}", REPOVERSION_EMBEDDED_WORKER="false"
    )
    with running(proc, f"{served_url}/healthz"):
        versions = f"{made[0]['repoversion']} → {made[1]['repoversion']}"
        rows = [Row(NAME, f"{kind}: versions measured", versions)]
        rows += api_rows(kind, port, made, repeat)
        if cli:
            rows += cli_rows(served_url, repeat)
    return rows
