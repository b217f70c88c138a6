"""Reading and serving a long history (for tests/bench/history.py): API latencies over
HTTP, warm lockfile resolves, and ``wrk`` on the serve path against a one-version home.

Every answer measured is checked first (status and what it must hold); a latency is the
median of ``repeat`` requests on one keep-alive connection after a first one, which is
reported too (it pays for what a process caches).
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.bench.common import Row, fmt_s
from tests.bench.http import Wrk, check_bytes, fetch, run_wrk

NAME = "history"
#: listing, diff summary, history and warm resolve at the last version
READ_MAX_S = 0.2
#: the whole diff from the first version to the last
DIFF_MAX_S = 2.0
#: the serve path against a home holding one version
SERVE_RATIO_MIN = 0.9
#: resolved first against each version (builds its apt cache: not counted)
RESOLVE_FIRST = "build-essential"
#: then each once: warm (the version's apt cache built), never a cached answer
RESOLVE_WARM = (
    "curl", "git", "make", "wget", "rsync", "vim", "less", "openssh-client", "python3", "perl",
)  # fmt: skip


@dataclass
class Subject:
    """What the reads are about.

    :ivar first: the first version; ``last`` the newest.
    :ivar hot: a package upgraded in every version.
    :ivar pool: served pool path of the sample package in (first, last), with sha256.
    :ivar gz: sha256 of the Packages.gz of (first, last).
    """

    first: str
    last: str
    hot: str
    pool: tuple[tuple[str, str], tuple[str, str]]
    gz: tuple[str, str]


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def call(self, path: str, body: Any = None) -> tuple[float, Any]:
        """Seconds to the whole answer read, and the JSON answer (POST when ``body``).

        :raises RuntimeError: not a 200.
        """
        data = None if body is None else json.dumps(body).encode()
        headers = {} if data is None else {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        self.conn.request("GET" if data is None else "POST", path, data, headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        took = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"{path} answered {resp.status}: {raw[:300]!r}")
        return took, json.loads(raw)

    def close(self) -> None:
        self.conn.close()


def _latency(
    client: Client, path: str, repeat: int, check: Callable[[Any], str | None]
) -> tuple[float, float, Any]:
    """(first call, median of ``repeat`` more, the first answer)."""
    first, body = client.call(path)
    problem = check(body)
    if problem:
        raise RuntimeError(f"GET {path}: {problem}")
    return first, statistics.median(client.call(path)[0] for _ in range(repeat)), body


def _row(measure: str, took: float, target: float | None, first: float | None = None) -> Row:
    value = fmt_s(took) + (f" (first call {fmt_s(first)})" if first is not None else "")
    if target is None:
        return Row(NAME, measure, value)
    return Row(NAME, measure, value, f"< {fmt_s(target)}", took < target)


def api_rows(port: int, s: Subject, repeat: int) -> list[Row]:
    """Listing, diff and history latencies, then warm resolves."""
    client = Client(port)
    rows: list[Row] = []

    def page(body: Any) -> str | None:
        ok = isinstance(body.get("items"), list) and body["items"] and body.get("next")
        return None if ok else f"not a first page: {str(body)[:200]}"

    def summary(body: Any) -> str | None:
        return None if body.get("counts", {}).get("upgraded") else f"no upgrade: {body}"

    def whole(body: Any) -> str | None:
        return None if len(body.get("upgraded", ())) > 1000 else "fewer than 1,000 upgrades"

    def lines(body: Any) -> str | None:
        return None if isinstance(body, list) and len(body) > 1 else f"history: {body}"

    diff = f"/api/v1/versions/{s.first}/diff/{s.last}"
    measures: list[tuple[str, str, Callable[[Any], str | None], float | None]] = [
        (f"listing, first page, {s.first}", f"/api/v1/versions/{s.first}/packages", page, None),
        (
            f"listing, first page, {s.last}",
            f"/api/v1/versions/{s.last}/packages",
            page,
            READ_MAX_S,
        ),
        (f"diff {s.first} → {s.last}, summary", f"{diff}?summary=true", summary, READ_MAX_S),
        (f"diff {s.first} → {s.last}, whole", diff, whole, DIFF_MAX_S),
        (f"history of {s.hot}", f"/api/v1/packages/{s.hot}/history", lines, READ_MAX_S),
    ]
    try:
        for label, path, check, target in measures:
            first, took, body = _latency(client, path, repeat, check)
            extra = ""
            if "counts" in body:
                extra = " " + json.dumps(body["counts"])
            elif isinstance(body, list):
                extra = f" ({len(body)} lines)"
            print(f"  {label}: {fmt_s(took)} (first {fmt_s(first)}){extra}", flush=True)
            rows.append(_row(label + extra, took, target, first))
        for version in (s.first, s.last):
            rows += _resolve_rows(client, version, repeat)
    finally:
        client.close()
    return rows


def _resolve_rows(client: Client, version: str, repeat: int) -> list[Row]:
    """Cold (first), warm (new requests, apt cache built) and cached resolves."""
    path = f"/api/v1/versions/{version}/resolve"

    def body(name: str) -> dict[str, Any]:
        return {"packages": [name], "architecture": "amd64"}

    cold, lock = client.call(path, body(RESOLVE_FIRST))
    locked = lock["packages"]
    bumped = sum(1 for p in locked if "+rv" in p["version"])
    warm = [client.call(path, body(name))[0] for name in RESOLVE_WARM]
    cached = statistics.median(client.call(path, body(RESOLVE_FIRST))[0] for _ in range(repeat))
    took = statistics.median(warm)
    print(
        f"  resolve against {version}: cold {fmt_s(cold)}, warm {fmt_s(took)}, "
        f"cached {fmt_s(cached)} ({len(locked)} packages locked, {bumped} upgraded)",
        flush=True,
    )
    return [
        Row(
            NAME,
            f"resolve {version}: {RESOLVE_FIRST} cold, cached",
            f"{fmt_s(cold)}, {fmt_s(cached)} ({len(locked)} locked, {bumped} of them upgraded)",
        ),
        _row(f"resolve {version}: warm (median of {len(warm)} packages)", took, READ_MAX_S),
    ]


# -- the serve path ------------------------------------------------------------------------


def serve_rows(hist_url: str, one_url: str, s: Subject, seconds: int, rounds: int) -> list[Row]:
    """Requests per second for a pool file, Packages.gz and InRelease of the first and the
    last version, against the same file of a home holding one version; runs alternate."""
    archive = "/debian"
    index = "/dists/bookworm/main/binary-amd64/Packages.gz"
    kinds = {
        "50 kB pool file": (s.pool[0], s.pool[1]),
        "14 MB Packages.gz": ((index, s.gz[0]), (index, s.gz[1])),
        "InRelease (signed here)": (
            ("/dists/bookworm/InRelease", ""),
            ("/dists/bookworm/InRelease", ""),
        ),
    }
    targets: dict[str, dict[str, str]] = {}
    for kind, ((path1, sha1), (path_n, sha_n)) in kinds.items():
        targets[kind] = {
            "one": _checked(f"{one_url}/v/{s.first}{archive}{path1}", sha1),
            "first": _checked(f"{hist_url}/v/{s.first}{archive}{path1}", sha1),
            "last": _checked(f"{hist_url}/v/{s.last}{archive}{path_n}", sha_n),
        }
    got: dict[tuple[str, str], list[Wrk]] = {}
    shape = (2, 32, seconds)
    for r in range(rounds):
        for kind, urls in targets.items():
            for who, url in urls.items():
                w = run_wrk(url, argparse.Namespace(), shape=shape)
                got.setdefault((kind, who), []).append(w)
                print(f"  round {r + 1}/{rounds} {kind:<24} {who:<5} {w.text()}", flush=True)
    rows = [Row(NAME, "wrk on loopback", f"-t2 -c32 -d{seconds}s, {rounds} alternating rounds")]
    for kind in targets:
        one = _median(got[(kind, "one")])
        rows.append(Row(NAME, f"serve {kind}: one-version home", f"{one:,.0f} req/s"))
        for who, version in (("first", s.first), ("last", s.last)):
            rps = _median(got[(kind, who)])
            clean = all(w.clean for w in got[(kind, who)])
            ratio = rps / one if one else 0.0
            rows.append(
                Row(
                    NAME,
                    f"serve {kind}: {version} (÷ one-version home)",
                    f"{rps:,.0f} req/s ({ratio:.2f})" + ("" if clean else " ERRORS"),
                    f">= {SERVE_RATIO_MIN}",
                    ratio >= SERVE_RATIO_MIN and clean,
                )
            )
    return rows


def _checked(url: str, sha256: str) -> str:
    """``url`` after checking it answers 200 (with ``sha256``'s bytes when given); a pool
    file is fetched on demand from upstream then, and stored."""
    if sha256:
        check_bytes(url, sha256)
    else:
        status, _headers, body = fetch(url)
        if status != 200:
            raise RuntimeError(f"GET {url}: {status} {body[:200]!r}")
    return url


def _median(runs: list[Wrk]) -> float:
    return statistics.median(w.rps for w in runs)
