"""``python -m tests.web.measure_fetch_through``: what slow upstream downloads cost the rest
of a running server (the figures of docs/serving.md; timings never go into the tests).

1. A fixture archive of 16 pool files of 2 MiB, plus a small one, synced (``on_demand``)
   into a scratch home on SQLite; ``repoversion serve --workers 2`` over it.
2. The small file is fetched once (now stored), the InRelease generated once.
3. The 16 large files are asked for at once while upstream sends each at 8 KiB/s; for
   ``--seconds`` the three cheap URLs (``/healthz``, an InRelease, the stored file) are
   asked for one after another, each with a 5 s client timeout, and their latencies
   reported (a timeout counts as one), then what the 16 slow requests got so far.
4. ``wrk -t2 -c32 -d5s`` on the stored file, with no download running: what the thread
   count costs a plain file request.

Run it with other settings (``--threads 4 --waiters 3``), or against another checkout
(``PYTHONPATH=<checkout>/server``) to compare.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.fixtures.archives import ArchiveServer, DebCache, FixtureArchive, Pkg
from tests.fixtures.gpg import GpgKey
from tests.web.running import CLI, serving

NOW = "2025-06-01T00:00:00Z"


def _cli(home: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    env["REPOVERSION_NOW"] = NOW
    subprocess.run([*CLI, "--home", str(home), *args], env=env, check=True, capture_output=True)


def _probe(url: str) -> float:
    start = time.monotonic()
    try:
        ok = requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        ok = False
    return time.monotonic() - start if ok else float("inf")


def _wrk(url: str) -> str:
    if shutil.which("wrk") is None:
        return "wrk not installed"
    out = subprocess.run(
        ["wrk", "-t2", "-c32", "-d5s", url], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return f"{float(m[1]):,.0f} req/s" if m else out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.web.measure_fetch_through")
    parser.add_argument("--threads", default="32")
    parser.add_argument("--waiters", default="24")
    parser.add_argument("--seconds", type=float, default=20)
    opts = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rv-measure-"))
    try:
        with ArchiveServer() as upstream:
            key = GpgKey.generate(tmp)
            bigs = [
                Pkg(f"big{i:02d}", "1.0", files={"d": random.Random(i).randbytes(2 << 20)})
                for i in range(16)
            ]
            arc = FixtureArchive(
                tmp / "upstream",
                key,
                suites={"bookworm": [*bigs, Pkg("small", "1.0")]},
                deb_cache=DebCache(tmp / "debs", compression="none"),
            )
            arc.publish()
            arc.serve(upstream)
            home = tmp / "home"
            _cli(home, "init")
            keyring = str(arc.keyring_path)
            add = ["archive", "add", "debian", arc.url, "--suite", "bookworm"]
            _cli(home, *add, "--component", "main", "--arch", "amd64", "--keyring", keyring)
            _cli(home, "sync")
            settings = {
                "REPOVERSION_THREADS": opts.threads,
                "REPOVERSION_FETCH_WAITERS": opts.waiters,
            }
            with serving(home, **settings) as server:
                _measure(server.url, arc, bigs, upstream, opts.seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(
    url: str, arc: FixtureArchive, bigs: list[Pkg], upstream: ArchiveServer, seconds: float
) -> None:
    small = f"{url}/v/1.0.0/debian/{arc.packages()[-1].filename}"
    cheap = {
        "/healthz": f"{url}/healthz",
        "InRelease": f"{url}/v/1.0.0/debian/dists/bookworm/InRelease",
        "stored .deb": small,
    }
    for u in cheap.values():
        requests.get(u, timeout=60).raise_for_status()
    print(f"wrk, stored .deb, no download running: {_wrk(small)}")
    upstream.add_rule("*/pool/main/b/big*", rate=8192)
    latencies: dict[str, list[float]] = {name: [] for name in cheap}
    pool = ThreadPoolExecutor(16)
    slow = [
        pool.submit(requests.get, f"{url}/v/1.0.0/debian/{p.filename}", timeout=3600) for p in bigs
    ]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for name, u in cheap.items():
            latencies[name].append(_probe(u))
    for name, values in latencies.items():
        done = sorted(v for v in values if v != float("inf"))
        timeouts = len(values) - len(done)
        line = f"{name}: {len(values)} requests, {timeouts} timed out (5 s)"
        if done:
            line += (
                f", median {statistics.median(done) * 1000:.1f} ms, max {done[-1] * 1000:.1f} ms"
            )
        print(line)
    answered = Counter(f.result().status_code for f in slow if f.done() and not f.exception())
    print(f"the 16 slow requests: {dict(answered)} answered, the others still waiting")
    pool.shutdown(wait=False, cancel_futures=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
