"""Resolve benchmark: a lockfile of build-essential, cold, warm and cached, against apt-get.

One version of the corpus (debian bookworm and bookworm-updates, debian-security
bookworm-security; main, amd64), synced from loopback. Measured in one run (see
docs/lockfiles.md):

1. **cold**: the first request for the version in a fresh interpreter, with no apt tree
   and no result on disk (the version was never resolved): ``actions.lock_packages`` timed
   in process, imports and interpreter start apart. Repeated in new processes
   (``--resolve-repeat``); the median counts. A separate process times the phases
   (tree, apt cache, resolution) to say where cold time goes, and one more the first
   request when the tree is already on disk (a restarted server);
2. **warm**: the same process again, its apt cache built, the result dropped from memory
   and disk before each request: the median of ``--resolve-rounds`` requests;
3. **cached**: the same request again: the median;
4. **apt-get**: ``apt-get update`` then ``apt-get install --simulate`` on the same version
   served by ``repoversion serve``, isolated as FIELD-NOTES.md shows; the lockfile's set
   must equal apt's.

Targets (issue 11): warm < 100 ms, cached < 5 ms, cold < 1.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.bench.common import (
    CORPUS,
    DEBIAN_KEYRING,
    Row,
    StaticServer,
    fmt_s,
    free_port,
    run_measured,
    scratch,
    timed,
    venv_bin,
)

NAME = "resolve"
NOW = "2026-11-25T00:00:00Z"
WARM_MAX_S = 0.1
CACHED_MAX_S = 0.005
COLD_MAX_S = 1.5
SOURCES = (
    ("debian", ("bookworm", "bookworm-updates")),
    ("debian-security", ("bookworm-security",)),
)

# Runs in a fresh interpreter: prints one JSON line of timings.
_CHILD = r"""
import json, os, shutil, statistics, sys, time
home, version, package, rounds, mode = sys.argv[1:6]
def cpu():  # this process and its reaped children (the copies resolutions run in)
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
t0 = time.perf_counter()
from repoversion import actions
from repoversion.actions import lockfiles
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.resolve import service
imports = time.perf_counter() - t0
ctx = Context(load_settings(home))
out = {"imports": imports}
if mode == "phases":
    from repoversion.db.session import transaction
    from repoversion.resolve.aptcache import APT_LOCK, CACHES, in_copy
    from repoversion.resolve.request import Request
    from repoversion.versions import refs
    t = time.perf_counter()
    with transaction(ctx.sessions) as s:
        v = refs.resolve_ref(s, version)
    index = refs.read_index(ctx.store, v)
    out["version"] = time.perf_counter() - t
    resolver = lockfiles._resolver(ctx)
    t = time.perf_counter()
    tree = resolver._tree(index, "amd64")
    out["tree"] = time.perf_counter() - t
    request = Request.of([package], "amd64")
    with APT_LOCK:
        t = time.perf_counter()
        apt = CACHES.get(tree, False)
        out["apt_cache"] = time.perf_counter() - t
        t = time.perf_counter()
        in_copy(lambda: service._resolve_here(apt, request, version))
        out["resolve"] = time.perf_counter() - t
    print(json.dumps(out))
    sys.exit(0)
t, c = time.perf_counter(), cpu()
data = actions.lock_packages(ctx, version, "amd64", [package])
out["cold"], out["cold_cpu"] = time.perf_counter() - t, cpu() - c
warm, warm_cpu = [], []
for _ in range(int(rounds)):
    service.RESULTS._items.clear()
    shutil.rmtree(next((ctx.settings.home / "cache" / "apt").iterdir()) / "results")
    t, c = time.perf_counter(), cpu()
    again = actions.lock_packages(ctx, version, "amd64", [package])
    warm.append(time.perf_counter() - t)
    warm_cpu.append(cpu() - c)
    assert again == data
out["warm_cpu"] = statistics.median(warm_cpu)
cached = []
for _ in range(int(rounds) * 10):
    t = time.perf_counter()
    actions.lock_packages(ctx, version, "amd64", [package])
    cached.append(time.perf_counter() - t)
out.update(warm=statistics.median(warm), cached=statistics.median(cached))
locked = json.loads(data)["packages"]
out["set"] = sorted([p["name"], p["version"], p["architecture"]] for p in locked)
print(json.dumps(out))
"""


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--resolve-repeat", type=int, default=3, help="fresh processes for the cold figure"
    )
    group.add_argument(
        "--resolve-rounds", type=int, default=10, help="warm requests per process (x10 cached)"
    )
    group.add_argument("--resolve-package", default="build-essential", help="what to resolve")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    for key in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        env.pop(key, None)  # every request stays on 127.0.0.1
    return {**env, "REPOVERSION_NOW": NOW, **extra}


def prepare(base: Path) -> tuple[Path, str]:
    """A home with the corpus synced into its first version."""
    if not (CORPUS / "debian/dists/bookworm/InRelease").is_file():
        raise RuntimeError(f"no corpus at {CORPUS} (REPOVERSION_BENCH_CORPUS)")
    home = base / "home"
    rv = venv_bin("repoversion")

    def cli(*args: str) -> str:
        return run_measured([rv, "--home", str(home), *args], env=_env()).check().stdout

    with StaticServer(CORPUS) as upstream:
        cli("init")
        for name, suites in SOURCES:
            args = ["archive", "add", name, f"{upstream.url}/{name}", "--component", "main"]
            args += ["--arch", "amd64", "--keyring", str(DEBIAN_KEYRING)]
            args += [a for s in suites for a in ("--suite", s)]
            cli(*args)
        version = str(json.loads(cli("sync", "--json"))["repoversion"])
    return home, version


def child(home: Path, version: str, opts: argparse.Namespace, mode: str) -> dict[str, object]:
    """Timings from a fresh interpreter (``mode``: ``request`` or ``phases``)."""
    argv = [sys.executable, "-c", _CHILD, str(home), version, opts.resolve_package]
    argv += [str(opts.resolve_rounds), mode]
    out = run_measured(argv, env=_env()).check()
    return out.last_json()


@contextlib.contextmanager
def serving(base: Path, home: Path) -> Iterator[str]:
    """``repoversion serve`` on a free loopback port until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [venv_bin("repoversion"), "--home", str(home), "serve", "--bind", f"127.0.0.1:{port}"]
    with open(base / "serve.log", "wb") as log:
        proc = subprocess.Popen(argv, env=_env(REPOVERSION_PUBLIC_URL=url), stdout=log, stderr=log)
        try:
            _wait(url + "/healthz", proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"repoversion serve exited {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in 60 s")


def apt_get(base: Path, home: Path, version: str, package: str) -> tuple[float, float, list]:  # type: ignore[type-arg]
    """(update seconds, simulate seconds, apt's set) against ``repoversion serve``."""
    from tests.fixtures.apt import AptClient

    with serving(base, home) as url:
        key = home / "keys" / "repoversion.gpg"
        apt = AptClient(base / "apt")
        apt.set_sources(
            [
                f"deb [signed-by={key}] {url}/v/{version}/{name} {suite} main"
                for name, suites in SOURCES
                for suite in suites
            ]
        )
        with timed() as t_update:
            apt.update()
        with timed() as t_simulate:
            found = apt.simulate([package])
    return t_update[0], t_simulate[0], sorted(list(x) for x in found)


def run(opts: argparse.Namespace) -> list[Row]:
    pkg = opts.resolve_package
    with scratch("rv-bench-resolve-") as base:
        with timed() as t_prep:
            home, version = prepare(base)
        print(f"version {version} of the corpus synced in {fmt_s(t_prep[0])}", flush=True)
        cache = home / "cache"
        colds: list[float] = []
        runs = []
        for _ in range(max(1, opts.resolve_repeat)):
            subprocess.run(["rm", "-rf", str(cache)], check=True)
            runs.append(child(home, version, opts, "request"))
            colds.append(float(runs[-1]["cold"]))  # type: ignore[arg-type]
        first = runs[-1]
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        phases = child(home, version, opts, "phases")
        restart = child(home, version, opts, "request")  # tree on disk, no result yet
        t_update, t_sim, apt_set = apt_get(base, home, version, pkg)
    cold = statistics.median(colds)
    cold_cpu = statistics.median(float(r["cold_cpu"]) for r in runs)  # type: ignore[arg-type]
    warm_cpu = statistics.median(float(r["warm_cpu"]) for r in runs)  # type: ignore[arg-type]
    load = os.getloadavg()[0]
    warm = statistics.median(float(r["warm"]) for r in runs)  # type: ignore[arg-type]
    cached = statistics.median(float(r["cached"]) for r in runs)  # type: ignore[arg-type]
    same = first["set"] == apt_set
    print(
        f"{pkg}: {len(apt_set)} packages; cold {[fmt_s(c) for c in colds]}, phases "
        + ", ".join(f"{k} {fmt_s(float(v))}" for k, v in phases.items())  # type: ignore[arg-type]
        + f"; apt-get update {fmt_s(t_update)}, install -s {fmt_s(t_sim)}",
        flush=True,
    )
    return [
        Row(
            NAME,
            f"{pkg} cold (fresh process, no tree)",
            f"{fmt_s(cold)} (CPU {fmt_s(cold_cpu)})",
            f"< {fmt_s(COLD_MAX_S)}",
            cold < COLD_MAX_S,
        ),
        Row(
            NAME,
            "  cold phases: tree, apt cache, resolve",
            ", ".join(fmt_s(float(phases[k])) for k in ("tree", "apt_cache", "resolve")),  # type: ignore[arg-type]
        ),
        Row(NAME, "  first request, tree on disk", fmt_s(float(restart["cold"]))),  # type: ignore[arg-type]
        Row(NAME, "  imports (not counted)", fmt_s(float(first["imports"]))),  # type: ignore[arg-type]
        Row(
            NAME,
            f"{pkg} warm (apt cache built)",
            f"{fmt_s(warm)} (CPU {fmt_s(warm_cpu)})",
            f"< {fmt_s(WARM_MAX_S)}",
            warm < WARM_MAX_S,
        ),
        Row(
            NAME,
            f"{pkg} cached",
            f"{cached * 1000:.2f} ms",
            f"< {fmt_s(CACHED_MAX_S)}",
            cached < CACHED_MAX_S,
        ),
        Row(NAME, "apt-get update + install -s", f"{fmt_s(t_update)} + {fmt_s(t_sim)}"),
        Row(NAME, "load average (1 min) at the end", f"{load:.1f} on {os.cpu_count()} cores"),
        Row(
            NAME,
            "lockfile set = apt-get -s set",
            f"{same} ({len(apt_set)} packages)",
            "equal",
            same,
        ),
    ]
