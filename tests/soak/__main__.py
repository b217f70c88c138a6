"""``python -m tests.soak`` (``make soak``): the compose set-up on loopback, under load and
faults, for a bounded time; prints its figures and PASS/FAIL per point, exits 1 on a FAIL.

The set-up is tests/deploy/stack.py's: two ``repoversion serve`` nodes (2 workers each,
no embedded worker), one ``repoversion worker``, the filesystem store (nginx sends blobs
on ``X-Accel-Redirect``), nginx with docker/nginx.conf in front, and a PostgreSQL of the
soak's own (tests/soak/postgres.py: restarting the machine's shared one would fail other
people's test runs). Upstream is a signed fixture archive (tests/soak/upstream.py),
synced twice before the load: the first version is left untagged, the second is tagged
``pinned`` and ``stable``.

Then ``wrk -t2 -c64 -d60s`` (tests/soak/mixed.lua) asks for URLs picked at random from a
list: index files, index.json and packages.json of the second version (``/v/X.Y.Z/``,
cached by nginx), the same under the tags ``stable``, ``pinned`` and ``latest`` (never
cached: every one reaches a node and the database), and every pool file, by version and
by tag. Meanwhile (tests/soak/events.py) a sync commits while its worker is killed, a
tag moves, PostgreSQL restarts and GC runs; RSS is sampled at 5 s, half-way and 3 s
before the end. Afterwards (tests/soak/checks.py) every file of every version is fetched
again and ``repoversion fsck`` runs.

Judged: no socket error; no 5xx outside the restart window (from the restart command to
:data:`GRACE` after PostgreSQL accepts connections again) and no failed request after
it (nginx's access log, per request); every event succeeded (GC and fsck missing: GC
fails, fsck is reported NOT RUN); server RSS flat; nothing lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.stack import Stack, start_stack
from tests.soak import checks, events, traffic
from tests.soak.postgres import Cluster
from tests.soak.upstream import STEADY, SUITE, Upstream

#: seconds after PostgreSQL accepts connections again during which failures still count
#: as the restart's (requests already failing when it came back)
GRACE = 1.0


@contextlib.contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rv-soak-"))
    try:
        yield path
    finally:
        if keep:
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def seed(stack: Stack, upstream: Upstream) -> tuple[str, str, str]:
    """Two versions synced, the second tagged; (first, second, an admin token)."""
    stack.cli("archive", "add", "debian", upstream.url, "--suite", SUITE, "--component",
              "main", "--arch", "amd64", "--keyring", str(upstream.keyring),
              "--policy", "immediate")  # fmt: skip
    first = json.loads(stack.cli("sync", "--json").stdout)["repoversion"]
    upstream.set_churn("2.0-1", 40_000)
    second = json.loads(stack.cli("sync", "--json").stdout)["repoversion"]
    for tag in ("pinned", "stable"):
        stack.cli("tag", tag, second)
    made = stack.cli("token", "create", "soak", "--scope", "admin", "--json")
    return first, second, json.loads(made.stdout)["token"]


def url_list(stack: Stack, version: str, upstream: Upstream) -> dict[str, list[str]]:
    """The load's URLs by kind: immutable version URLs, tag URLs, pool files."""
    index = stack.get(f"/v/{version}/index.json").json()
    files = list(index["archives"]["debian"]["suites"][SUITE]["files"])
    dists = ["InRelease", "Release", "Release.gpg", *files]
    pool = [p.filename for p in upstream.archive.packages(SUITE)]
    steady = [f for f in pool if f.split("/")[-1].split("_")[0] in STEADY]
    return {
        "version": [f"/v/{version}/debian/dists/{SUITE}/{d}" for d in dists]
        + [f"/v/{version}/index.json", f"/v/{version}/packages.json"],
        "tag": [f"/v/{t}/debian/dists/{SUITE}/{d}" for t in ("stable", "latest") for d in dists]
        + ["/v/pinned/index.json", "/v/stable/packages.json"],
        "pool": [f"/v/{version}/debian/{f}" for f in pool]
        + [f"/v/stable/debian/{f}" for f in steady]
        + [f"/v/pinned/debian/{f}" for f in pool if f not in steady],
    }


def warm(stack: Stack, urls: dict[str, list[str]]) -> None:
    """Every URL answers 200 once before the load (and fills nginx's cache).

    :raises RuntimeError: one does not.
    """
    for path in (p for kind in urls.values() for p in kind):
        status = stack.get(path).status_code
        if status != 200:
            raise RuntimeError(f"before the load, {path} answers {status}")


def run(opts: argparse.Namespace, base: Path, rows: list[list[str]]) -> None:
    """Set up, load, judge; appends (measure, value, target, result) rows."""
    with contextlib.ExitStack() as es:
        cluster = Cluster()
        es.callback(cluster.stop)
        cluster.start()
        upstream = Upstream(base)
        es.callback(upstream.close)
        shared = {
            "REPOVERSION_DATABASE_URL": cluster.url,
            "REPOVERSION_STORAGE_URL": f"file://{base / 'blobs'}",
            "REPOVERSION_SIGNING_KEY": str(base / "signing-key.asc"),
        }
        lease = {"REPOVERSION_JOB_LEASE": events.LEASE}
        stack = es.enter_context(
            start_stack(base / "stack", shared, blobs=base / "blobs", worker_settings=lease)
        )
        first, second, token = seed(stack, upstream)
        urls = url_list(stack, second, upstream)
        warm(stack, urls)
        listing = base / "urls.txt"
        listing.write_text("".join(p + "\n" for kind in urls.values() for p in kind))
        memory = checks.Memory(stack.server_pids())
        count = sum(map(len, urls.values()))
        print(f"{first} and {second} synced; {count} URLs for {opts.seconds} s", flush=True)
        began = time.time()
        load = traffic.Load(stack.front, listing, opts.seconds, opts.connections)
        es.callback(load.stop)
        actors = events.Actors(stack, upstream, events.Api(stack, token), cluster, memory)
        happened = events.timeline(actors, first, opts.seconds)
        wrk = load.result(timeout=opts.seconds + 120)
        ended = time.time()
        print("load over; checking every file of every version", flush=True)
        window = happened.window or (ended, ended)
        seen = traffic.read_front_log(stack.front_log, began, ended, (window[0], window[1] + GRACE))
        inventory = checks.nothing_lost(stack, upstream, happened.dropped)
        fsck = checks.fsck(stack)
        same = set(stack.server_pids()) == set(memory.pids)
        left = checks.leftovers(base / "blobs")
        results = Results(urls, wrk, seen, happened, memory, same, inventory, left, fsck)
        rows += figures(opts, results)


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "NOT RUN"}[ok]


@dataclass
class Results:
    """Everything the table reports."""

    urls: dict[str, list[str]]
    wrk: traffic.Wrk
    seen: traffic.Seen
    happened: events.Happened
    memory: checks.Memory
    same_processes: bool
    inventory: checks.Inventory
    leftovers: list[str]
    fsck: tuple[bool | None, str]


def figures(opts: argparse.Namespace, res: Results) -> list[list[str]]:
    """The table's rows: (point, figure, target, PASS/FAIL or nothing for a plain figure)."""
    kinds = ", ".join(f"{len(v)} {k}" for k, v in res.urls.items())
    wrk, seen, memory, inv = res.wrk, res.seen, res.memory, res.inventory
    sock = wrk.socket_errors
    answers = ", ".join(f"{s}: {n:,}" for s, n in sorted(seen.statuses.items()))
    rows = [
        ["load", f"wrk -t2 -c{opts.connections} -d{opts.seconds}s over {kinds} URLs", "", ""],
        [
            "requests (wrk)",
            f"{wrk.requests:,} ({wrk.rps:,.0f}/s), p50 {wrk.p50_ms:.1f} ms, "
            f"p99 {wrk.p99_ms:.1f} ms, {wrk.non2xx} non-2xx",
            "",
            "",
        ],
        [
            "socket errors (wrk)",
            ", ".join(f"{k} {v}" for k, v in sock.items()),
            "0",
            _verdict(not any(sock.values())),
        ],
        ["answers (nginx log)", f"{answers}; cache {dict(seen.cache)}", "", ""],
    ]
    for step in res.happened.steps:
        point = f"+{step.began:.0f} s {step.name} ({step.took:.1f} s)"
        rows.append([point, step.outcome, "succeeds", _verdict(step.ok)])
    late = res.happened.late
    rows.append(["events fit in the load", "no" if late else "yes", "yes", _verdict(not late)])
    window = res.happened.window
    if window:
        span = f"{window[1] - window[0]:.2f} s + {GRACE:.0f} s"
        rows.append(["5xx inside the restart window", f"{seen.in_window_5xx} ({span})", "", ""])
    rows += [
        [
            "5xx outside the restart window",
            _some(seen.outside_5xx),
            "0",
            _verdict(not seen.outside_5xx),
        ],
        [
            "failed requests after the window",
            _some(seen.failed_after),
            "0",
            _verdict(not seen.failed_after),
        ],
        [
            "server RSS (2 nodes, all processes)",
            f"{memory.text()}; {100 * memory.growth():+.1f} %",
            f"<= +{100 * checks.RSS_TOLERANCE:.0f} %",
            _verdict(memory.growth() <= checks.RSS_TOLERANCE),
        ],
        [
            "server processes",
            f"{len(memory.pids)}, the same throughout"
            if res.same_processes
            else "some died or were replaced",
            "same",
            _verdict(res.same_processes),
        ],
        [
            "nothing lost",
            f"{inv.files:,} files of versions {', '.join(inv.versions)}: "
            + ("all right" if not inv.problems else "; ".join(inv.problems[:5])),
            "all right",
            _verdict(not inv.problems),
        ],
        [
            "temporary files left in the store",
            f"{len(res.leftovers)} {res.leftovers[:3]}" if res.leftovers else "0",
            "0",
            _verdict(not res.leftovers),
        ],
        ["fsck", res.fsck[1], "clean", _verdict(res.fsck[0])],
    ]
    return rows


def _some(rows: list[tuple[float, int, str]]) -> str:
    if not rows:
        return "0"
    return f"{len(rows)}, e.g. " + ", ".join(f"{s} {u}" for _, s, u in rows[:3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=int, default=60, help="wrk -d (default 60)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    opts = parser.parse_args(argv)
    if opts.seconds < 30:
        parser.error("--seconds must be at least 30 (the events need the time)")
    missing = [t for t in ("wrk", "nginx", "gpg", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        print(f"soak: not installed: {', '.join(missing)}", file=sys.stderr)
        return 1
    rows: list[list[str]] = []
    t0 = time.monotonic()
    with scratch(opts.keep or bool(os.environ.get("REPOVERSION_SOAK_KEEP"))) as base:
        try:
            run(opts, base, rows)
        except Exception as exc:  # a soak that cannot finish is a result
            traceback.print_exc()
            rows.append(["soak", f"crashed: {type(exc).__name__}: {exc}"[:300], "runs", "FAIL"])
    print(f"\n=== soak ({time.monotonic() - t0:.0f} s) ===")
    from tests.bench.common import print_table

    print_table(["point", "figure", "target", "result"], rows)
    failed = [r[0] for r in rows if r[3] == "FAIL"]
    print(f"\nsoak: {'FAIL: ' + ', '.join(failed) if failed else 'PASS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
