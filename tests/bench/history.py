"""History benchmark: 1,000 successive versions on PostgreSQL, then what they cost to keep,
read and serve.

``python -m tests.bench history [--history-versions N]`` (``make bench-history``; too
long for ``make bench``). Method (docs/benchmarks.md, "The history simulation"):

1. A fresh PostgreSQL database (dropped at the end) holds a home whose one archive is a
   loopback upstream (policy ``on_demand``). State 1 is the corpus's bookworm main amd64
   (63,440 packages); each later state changes 1 % of the packages on average
   (tests/bench/history_states.py), is published as ``Packages.gz`` and signed with a
   throwaway key; ``run_sync`` (the code ``repoversion sync`` runs: fetch, verify, read
   the index against the base version, ``commit_sync``) commits it in this process.
   Each sync's time and its commit's (``commit_sync`` alone, between the sync's
   ``commit`` progress marks) are recorded, and each version's change counts are checked
   against what the state changed. The Packages.gz blob of every version but the first
   and the newest is deleted from the store once the next one is committed (the store
   would otherwise hold 14 MB a version; the database is untouched). When the server
   runs without autovacuum (the tests' server does), what autovacuum would do is done
   between versions (:meth:`Home.autovacuum`).
2. A second home on its own database syncs state 1 only: the one-version home.
3. ``repoversion serve`` (real gunicorn) answers the API reads and, with wrk, the serve
   path (tests/bench/history_reads.py).

Targets: database under 2 GB; at the newest version the first page of the package
listing, the diff summary from the first version, the hot package's history and a warm
resolve each under 200 ms, the whole diff under 2 s; commit time flat (the median of the
last 50 commits at most 1.5 x the median of the first 50, the first version's own import
apart); the serve path at least 0.9 x the one-version home.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.common import Row, StaticServer, fmt_s, print_table, scratch, timed
from tests.bench.history_home import Home, fresh_database
from tests.bench.history_reads import RESOLVE_FIRST, RESOLVE_WARM, Subject, api_rows, serve_rows
from tests.bench.history_states import Churn, Evolution, Upstream, corpus_stanzas
from tests.bench.http import repoversion_serve, running
from tests.fixtures.gpg import GpgKey

NAME = "history"
DB_MAX_BYTES = 2 * 1024**3
FLAT_WINDOW = 50
FLAT_MAX = 1.5


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--history-versions",
        type=int,
        default=1000,
        metavar="N",
        help="versions to build (default 1000; try 50 first)",
    )
    group.add_argument(
        "--history-repeat",
        type=int,
        default=7,
        metavar="N",
        help="requests per API latency after the first; medians are reported (default 7)",
    )
    group.add_argument(
        "--history-wrk-seconds", type=int, default=5, metavar="S", help="each wrk run (default 5)"
    )
    group.add_argument(
        "--history-keep",
        action="store_true",
        help="keep the two databases and the scratch directory for inspection (printed)",
    )
    group.add_argument(
        "--history-wrk-rounds",
        type=int,
        default=3,
        metavar="N",
        help="alternating wrk rounds over the three servers; medians (default 3)",
    )


@dataclass
class Built:
    """What building the history recorded, per version (index 0 is version 1)."""

    versions: list[str] = field(default_factory=list)
    sync_s: list[float] = field(default_factory=list)
    commit_s: list[float] = field(default_factory=list)
    #: CPU seconds of the commit: this thread's and the database's server processes'
    commit_cpu: list[float] = field(default_factory=list)
    #: (versions built, pg_database_size) at checkpoints
    sizes: list[tuple[int, int]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    #: VACUUM and ANALYZE run in autovacuum's stead (see Home.autovacuum)
    maintenance: list[int] = field(default_factory=lambda: [0, 0])
    gz: list[str] = field(default_factory=list)  # Packages.gz sha256 of first and last
    wall: float = 0.0


def _check(k: int, churn: Churn | None, result: Any) -> str | None:
    """What differs between the state's change and the version's counts (None: nothing)."""
    if not result.new:
        return f"state {k} made no new version"
    if churn is None:
        return None
    want = {"upgraded": churn.upgraded, "added": churn.added, "removed": churn.removed}
    got = {key: result.changes.get(key) for key in want}
    return None if got == want else f"state {k}: counts {got}, expected {want}"


def build(
    n: int, evo: Evolution, up: Upstream, hist: Home, one: Home, say: Callable[[str], None]
) -> Built:
    """Publish and sync states 1…n into ``hist`` (state 1 into ``one`` too)."""
    out = Built()
    every = max(1, min(50, n // 20))
    t0 = time.perf_counter()
    previous = None
    for k in range(1, n + 1):
        churn = evo.advance(k, last=k == n) if k > 1 else None
        pub = up.publish(k, evo.text())
        result, took, commit, cpu = hist.sync()
        problem = _check(k, churn, result)
        if problem:
            out.mismatches.append(problem)
        out.versions.append(str(result.repoversion))
        out.sync_s.append(took)
        out.commit_s.append(commit)
        out.commit_cpu.append(cpu)
        if k == 1:
            out.gz.append(pub.gz_sha256)
            single = one.sync()[0]
            if not single.new:
                raise RuntimeError("the one-version home's sync made no version")
        elif previous is not None and previous.k != 1:
            hist.ctx.store.delete(previous.gz_sha256)  # see the module's docstring
        previous = pub
        for i, runs in enumerate(hist.autovacuum()):
            out.maintenance[i] += runs
        if k == 1 or k % every == 0 or k == n:
            out.sizes.append((k, hist.db_size()))
            say(
                f"  version {k}/{n}: {result.repoversion}, sync {fmt_s(took)}, commit "
                f"{fmt_s(commit)} (CPU {fmt_s(cpu)}), database {out.sizes[-1][1] / 1e6:.0f} MB, "
                f"{time.perf_counter() - t0:.0f} s so far"
            )
    out.gz.append(previous.gz_sha256 if previous else "")
    out.wall = time.perf_counter() - t0
    return out


def _window(values: list[float], start: int, size: int) -> float:
    return statistics.median(values[start : start + size])


def _flat(label: str, values: list[float]) -> list[Row]:
    """Medians of 10 at the start, middle and end, and the flatness target."""
    w = min(FLAT_WINDOW, len(values))
    first, last = _window(values, 0, w), _window(values, len(values) - w, w)
    flat = last / first if first else 0.0
    at = (0, max(0, len(values) // 2 - 5), max(0, len(values) - 10))
    return [
        Row(
            NAME,
            f"{label}, median of 10: first, middle, last",
            ", ".join(fmt_s(_window(values, i, 10)) for i in at),
        ),
        Row(
            NAME,
            f"{label} flat: median of last {w} ÷ first {w}",
            f"{fmt_s(last)} ÷ {fmt_s(first)} = {flat:.2f}",
            f"<= {FLAT_MAX}",
            flat <= FLAT_MAX,
        ),
    ]


def build_rows(b: Built, hist: Home) -> list[Row]:
    n = len(b.versions)
    size = b.sizes[-1][1]
    per = (size - b.sizes[0][1]) / max(1, n - 1)
    packages = hist.scalar("SELECT count(*) FROM package")
    opened = hist.scalar("SELECT count(*) FROM package WHERE removed IS NULL")
    print("where the database went:")
    print_table(
        ["table (with indexes, TOAST)", "size"],
        [[t, f"{s / 1e6:.1f} MB"] for t, s in hist.table_sizes()],
    )
    rows = [
        Row(NAME, "versions built", f"{n}: {b.versions[0]} … {b.versions[-1]} in {fmt_s(b.wall)}"),
        Row(
            NAME,
            "change counts = what each state changed",
            f"{n - len(b.mismatches)}/{n}" + (f" ({b.mismatches[0]} …)" if b.mismatches else ""),
            "all",
            not b.mismatches,
        ),
        Row(NAME, "package rows (open in the newest)", f"{packages:,} ({opened:,})"),
        Row(
            NAME,
            "autovacuum's work, done in its stead",
            "the server runs autovacuum"
            if hist.scalar("SHOW autovacuum") == "on"
            else f"{b.maintenance[0]} VACUUM, {b.maintenance[1]} ANALYZE between versions",
        ),
        Row(
            NAME,
            f"database size (pg_database_size) after {n}",
            f"{size / 1e6:.0f} MB (version 1: {b.sizes[0][1] / 1e6:.0f} MB, "
            f"then {per / 1e3:.0f} kB a version)",
            f"< {DB_MAX_BYTES / 1024**3:.0f} GB",
            size < DB_MAX_BYTES,
        ),
        Row(
            NAME,
            "version 1 (the corpus): sync, commit",
            f"{fmt_s(b.sync_s[0])}, {fmt_s(b.commit_s[0])}",
        ),
    ]
    # version 1 imports the whole corpus: the windows start at version 2
    rows += _flat("commit wall", b.commit_s[1:])
    rows += _flat("commit CPU (client + server)", b.commit_cpu[1:])
    rows += _flat("whole sync wall", b.sync_s[1:])[:1]
    return rows


def run(opts: argparse.Namespace) -> list[Row]:
    n = max(2, int(getattr(opts, "history_versions", 1000)))
    repeat = max(3, int(getattr(opts, "history_repeat", 7)))
    for tool in ("wrk", "gpg"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    stanzas = corpus_stanzas()
    # a run stopped with SIGTERM still drops its databases and stops its servers
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run(n, repeat, stanzas, opts)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(n: int, repeat: int, stanzas: list[bytes], opts: argparse.Namespace) -> list[Row]:
    def say(line: str) -> None:
        print(line, flush=True)

    load = os.getloadavg()[0]
    keep = bool(getattr(opts, "history_keep", False))
    if keep:
        os.environ["REPOVERSION_BENCH_KEEP"] = "1"  # the scratch directory too
    with scratch("rv-bench-history-") as base, contextlib.ExitStack() as stack:
        key = GpgKey.generate(base)
        stack.callback(key.close)
        keyring = key.write_keyring(base / "keyring.gpg")
        up = Upstream(base / "upstream", key)
        protected = {name.encode() for name in (RESOLVE_FIRST, *RESOLVE_WARM)}
        evo = Evolution(stanzas, up.archive, 0.01, protected)
        del stanzas
        srv = stack.enter_context(StaticServer(base / "upstream"))
        url = f"{srv.url}/debian"
        hist = Home(base / "history", stack.enter_context(fresh_database(keep)), url, keyring)
        stack.callback(hist.close)
        one = Home(base / "one", stack.enter_context(fresh_database(keep)), url, keyring)
        stack.callback(one.close)
        say(
            f"building {n} versions (about {evo.target} packages changed in each, "
            f"{evo.hot_name} in all)"
        )
        built = build(n, evo, up, hist, one, say)
        rows = build_rows(built, hist)
        subject = Subject(
            built.versions[0],
            built.versions[-1],
            evo.hot_name,
            _pool(up, evo.sample_files),
            (built.gz[0], built.gz[1]),
        )
        with timed() as t_reads:
            rows += _reads(base, hist, one, subject, opts, repeat)
        rows.append(Row(NAME, "reads and serve measured in", fmt_s(t_reads[0])))
    rows.append(
        Row(NAME, "load average (1 min) before / after", f"{load:.2f} / {os.getloadavg()[0]:.2f}")
    )
    return rows


def _pool(up: Upstream, files: list[str]) -> tuple[tuple[str, str], tuple[str, str]]:
    import hashlib

    def one(path: str) -> tuple[str, str]:
        return f"/{path}", hashlib.sha256((up.archive / path).read_bytes()).hexdigest()

    return one(files[0]), one(files[-1])


def _reads(
    base: Path, hist: Home, one: Home, s: Subject, opts: argparse.Namespace, repeat: int
) -> list[Row]:
    hist_proc, hist_url, hist_port = repoversion_serve(
        base, hist.path, 2, "serve-history", REPOVERSION_EMBEDDED_WORKER="false"
    )
    one_proc, one_url, _ = repoversion_serve(
        base, one.path, 2, "serve-one", REPOVERSION_EMBEDDED_WORKER="false"
    )
    with running(hist_proc, f"{hist_url}/healthz"), running(one_proc, f"{one_url}/healthz"):
        print(f"reads against {s.first} and {s.last} ({os.cpu_count()} cores)", flush=True)
        rows = api_rows(hist_port, s, repeat)
        seconds = int(getattr(opts, "history_wrk_seconds", 5))
        rounds = int(getattr(opts, "history_wrk_rounds", 3))
        rows += serve_rows(hist_url, one_url, s, seconds, rounds)
    return rows
