"""A collection beside a real sync process, and beside a server answering requests, on
each database and each blob store: nothing a version needs is lost.

The sync reuses a blob the collection finds unreferenced (``hello`` 1.0, in a dropped
version only, comes back): the race of "a sync stores (or skips) a blob, then commits
its rows" against "a collection marks, then sweeps". Afterwards a server with an upstream
that has lost every pool file serves every file of the new version from the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.fixtures.archives import Pkg
from tests.gc.conftest import Home
from tests.web.running import serving

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.retention import run
from repoversion.versions.synclock import WAITING

REPOVERSION = str(Path(sys.executable).parent / "repoversion")
EXTRA = "/extra_1.0_amd64.deb"


def _start(home: Home, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [REPOVERSION, "--home", str(home.mirror.home), *args],
        env={**os.environ, **home.mirror.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(proc: subprocess.Popen[str]) -> str:
    """The first line ``proc`` writes on stderr (waiting for it, or for the end)."""
    assert proc.stderr is not None
    return proc.stderr.readline().strip()


@contextmanager
def _held(home: Home, path: str) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Upstream holds requests for ``path`` until ``release`` is set; ``reached`` says one
    came."""
    reached, release = threading.Event(), threading.Event()

    def hold(url: str) -> bool:
        if url.endswith(path):
            reached.set()
            release.wait(120)
        return False  # then served as usual

    assert home.archive.server is not None
    home.archive.server.add_rule(hold)
    try:
        yield reached, release
    finally:
        release.set()
        home.archive.server.clear_rules()


def _bring_hello_1_back(home: Home) -> str:
    """Drop 1.0.0 to 1.2.0 (their blobs are spared by the default grace, so ``hello``
    1.0's deb is stored, recorded and unreferenced), then publish ``hello`` 1.0 again and
    a new ``extra``; returns the deb's sha256."""
    hello1 = home.deb("1.0.0", "hello")
    assert home.gc("--keep", "1")["dropped"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert hello1 in home.stored() and hello1 in home.blob_rows()
    home.archive.add(Pkg("hello", "1.0"))
    home.archive.add(Pkg("extra", "1.0"))
    home.archive.publish()
    return hello1


def _sync_result(home: Home, proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    version = str(json.loads(out)["repoversion"])
    listed = json.loads(home.mirror.cli("packages", version, "--json").stdout)
    home.packages[version] = {p["name"]: p for p in listed}
    return version


def _serves_every_file(home: Home, version: str) -> None:
    """A server, whose upstream now has no pool file, serves every file of ``version``
    with the bytes the version lists."""
    assert home.archive.server is not None
    home.archive.server.add_rule("*/pool/*", status=404)
    env = {k: v for k, v in home.mirror.env.items() if k != "REPOVERSION_NOW"}
    files = home.files(version)
    assert set(files.values()) <= home.stored()
    with serving(home.mirror.home, **env) as server:
        for path, sha in files.items():
            resp = requests.get(f"{server.url}/v/{version}/{path}", timeout=60)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
            assert hashlib.sha256(resp.content).hexdigest() == sha, path
        arc = home.archive.name
        assert requests.get(f"{server.url}/v/{version}/{arc}/dists/bookworm/InRelease").ok


def test_a_collection_waits_for_a_running_sync(history: Home) -> None:
    home = history
    hello1 = _bring_hello_1_back(home)
    with _held(home, EXTRA) as (reached, release):
        sync = _start(home, "sync", "--json")
        assert reached.wait(120), "the sync never asked for the new deb"
        # the sync holds its lock, has stored the index files and skipped hello 1.0's
        # deb (stored already), and has committed nothing
        gc = _start(home, "gc", "--grace", "0", "--json")
        assert _first_line(gc) == "A sync or another gc is running; waiting for it to finish."
        release.set()
        version = _sync_result(home, sync)
        out, err = gc.communicate(timeout=300)
    assert gc.returncode == 0, err
    assert version == "1.4.0" and home.deb(version, "hello") == hello1
    assert hello1 in home.stored()  # needed again by the time the collection marked
    assert '"freed"' in out
    _serves_every_file(home, version)


def test_a_sync_waits_for_a_running_collection(
    history: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = history
    hello1 = _bring_hello_1_back(home)
    holding, release = threading.Event(), threading.Event()
    real_free = run.sweep.free

    def free(*args: Any, **kwargs: Any) -> Any:
        holding.set()  # the lock is held, the garbage decided (hello 1.0's deb among it)
        assert release.wait(120)
        return real_free(*args, **kwargs)

    monkeypatch.setattr(run.sweep, "free", free)
    ctx = Context(load_settings(home.mirror.home, environ=dict(home.mirror.env)))
    reports: list[dict[str, Any]] = []
    collecting = threading.Thread(target=lambda: reports.append(actions_gc(ctx)))
    collecting.start()
    try:
        assert holding.wait(120), "the collection never reached its sweep"
        home.archive.server.clear_log()  # type: ignore[union-attr]
        sync = _start(home, "sync", "--json")
        assert _first_line(sync) == WAITING
        assert home.archive.requests == []  # it waits before its first request
        release.set()
        collecting.join(120)
        version = _sync_result(home, sync)
    finally:
        release.set()
        collecting.join(120)
        ctx.close()
    assert reports and reports[0]["freed"]["blobs"] > 0
    assert version == "1.4.0" and home.deb(version, "hello") == hello1
    # the collection freed hello 1.0's deb and its row; the sync then fetched it again
    assert any(p.endswith("/hello_1.0_amd64.deb") for p in home.archive.requests)
    _serves_every_file(home, version)


def actions_gc(ctx: Context) -> dict[str, Any]:
    from repoversion.actions.gc import gc

    return gc(ctx, grace="0")


def test_requests_are_served_while_a_collection_frees(history: Home) -> None:
    home = history
    assert home.mirror.cli("tag", "stable", "1.2.0").code == 0
    arc = home.archive.name
    kept = {
        f"/v/{ref}/{path}": sha
        for ref, version in (("1.3.0", "1.3.0"), ("latest", "1.3.0"), ("stable", "1.2.0"))
        for path, sha in home.files(version).items()
    }
    generated = [
        f"/v/{ref}/{arc}/dists/bookworm/{name}"
        for ref in ("1.3.0", "latest", "stable")
        for name in ("InRelease", "Release", "Release.gpg")
    ] + ["/v/1.3.0/packages.json"]
    dropped = [f"/v/1.0.0/{p}" for p in home.files("1.0.0")]
    env = {k: v for k, v in home.mirror.env.items() if k != "REPOVERSION_NOW"}
    with serving(home.mirror.home, **env) as server:
        for url in generated:  # generated once, before the collection
            assert requests.get(server.url + url, timeout=60).status_code == 200
        failures: list[str] = []
        done = threading.Event()
        rounds = [0]

        def hammer() -> None:
            with requests.Session() as s:
                while not done.is_set() or rounds[0] < 2:
                    for url, sha in kept.items():
                        resp = s.get(server.url + url, timeout=60)
                        if (
                            resp.status_code != 200
                            or hashlib.sha256(resp.content).hexdigest() != sha
                        ):
                            failures.append(f"{url}: {resp.status_code}")
                    for url in generated:
                        if s.get(server.url + url, timeout=60).status_code != 200:
                            failures.append(url)
                    for url in dropped:  # 200 while a node still trusts it, then 410
                        status = s.get(server.url + url, timeout=60).status_code
                        if status >= 500:
                            failures.append(f"{url}: {status}")
                    rounds[0] += 1

        clients = [threading.Thread(target=hammer) for _ in range(3)]
        for c in clients:
            c.start()
        report = home.gc("--keep", "1", "--grace", "0")
        done.set()
        for c in clients:
            c.join(300)
    assert report["dropped"] == ["1.0.0", "1.1.0"] and report["freed"]["blobs"] > 0
    assert failures == []
