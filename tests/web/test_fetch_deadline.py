"""Fetch-through cannot starve the server: slow upstreams, deadlines, bounds, scopes.

Every test runs on SQLite and on PostgreSQL (``mirror = mirror_on_db``); the upstream is a
fixture archive whose pool files can be made to trickle in (``Rule.rate``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import event, select

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import Blob
from repoversion.db.session import transaction
from repoversion.errors import NotFound
from repoversion.serving.locks import LockTimeout, lock_until
from repoversion.serving.service import Serving
from repoversion.storage import FileSystemStore
from tests.fixtures.archives import ArchiveServer, DebCache, FixtureArchive, Pkg
from tests.fixtures.gpg import GpgKey
from tests.mirror.conftest import NOW, Mirror
from tests.web.running import mirror_on_db, serving

mirror = mirror_on_db  # every test here on SQLite and on PostgreSQL

MiB = 1 << 20
#: what a client allows the server for a cheap request while slow downloads go on
CLIENT_TIMEOUT = 5


def _big(name: str, size: int) -> Pkg:
    """A package whose .deb is about ``size`` bytes (random bytes, stored uncompressed)."""
    data = random.Random(name).randbytes(size)
    return Pkg(name, "1.0", files={f"usr/share/{name}/data": data})


def _archive(
    tmp_path: Path, key: GpgKey, server: ArchiveServer, packages: list[Pkg]
) -> FixtureArchive:
    """An archive of ``packages`` whose debs are built uncompressed (fast, and as big as
    their contents)."""
    arc = FixtureArchive(
        tmp_path / "upstream",
        key,
        suites={"bookworm": packages},
        deb_cache=DebCache(tmp_path / "debs", compression="none"),
    )
    arc.publish()
    arc.serve(server)
    return arc


def _digests(home: Path) -> set[str]:
    return set(FileSystemStore(home / "blobs").iter_digests())


def _blob_rows(home: Path) -> set[str]:
    ctx = Context(load_settings(home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            return set(s.scalars(select(Blob.sha256)))
    finally:
        ctx.close()


def _leftovers(home: Path) -> list[Path]:
    """Partial blobs and fetch locks: what a finished download must not leave."""
    return [
        p
        for d in (home / "blobs" / "tmp", home / "locks" / "fetch")
        if d.is_dir()
        for p in d.iterdir()
    ]


def _upstream_gets(server: ArchiveServer, pattern: str) -> int:
    return sum(1 for r in list(server.log) if r.method == "GET" and pattern in r.path)


def _wait_until(check: Callable[[], bool], what: str, limit: float = 30) -> None:
    """Poll ``check`` (a condition the test needs before going on, not a timing claim)."""
    end = time.monotonic() + limit
    while not check():
        assert time.monotonic() < end, what
        time.sleep(0.05)


def test_slow_upstream_leaves_the_server_answering_and_the_deadline_stores_nothing(
    mirror: Mirror, tmp_path: Path, gpg_key: GpgKey, archive_server: ArchiveServer
) -> None:
    bigs = [_big(f"big{i:02d}", 2 * MiB) for i in range(16)]
    arc = _archive(tmp_path, gpg_key, archive_server, [*bigs, Pkg("small", "1.0")])
    mirror.add(arc)
    mirror.sync()
    small = f"/v/1.0.0/debian/{arc.packages()[-1].filename}"
    in_release = "/v/1.0.0/debian/dists/bookworm/InRelease"
    with serving(mirror.home, REPOVERSION_FETCH_DEADLINE="6") as server:
        assert server.get(small).status_code == 200  # fetched through: stored now
        assert server.get(in_release).status_code == 200  # generated and signed once
        stored, rows = _digests(mirror.home), _blob_rows(mirror.home)
        # 8 KiB/s: each 2 MiB file would take over four minutes
        archive_server.add_rule("*/pool/main/b/big*", rate=8192)
        with ThreadPoolExecutor(16) as pool:
            slow = [pool.submit(server.get, f"/v/1.0.0/debian/{p.filename}", 60) for p in bigs]
            # a worker's downloader threads are all busy with them before we look
            _wait_until(lambda: _upstream_gets(archive_server, "/big") >= 8, "no download")
            rounds = 0
            while not all(f.done() for f in slow):
                for path in ("/healthz", in_release, small):
                    r = server.get(path, timeout=CLIENT_TIMEOUT)
                    assert r.status_code == 200, (path, r.status_code, r.text[:200])
                rounds += 1
            answers = [f.result() for f in slow]
        assert rounds >= 2, "the slow requests ended before the server was checked"
        for r in answers:
            assert r.status_code == 504, r.text[:200]
            assert r.headers["Cache-Control"] == "no-store"
            assert r.headers["Content-Type"] == "application/json"
            body = r.json()
            assert body["code"] == "fetch_deadline", body
            assert "fetch_deadline" in body["message"] and "/big" in body["message"]
        # nothing new in the store, no partial blob, no lock file, no row
        assert _digests(mirror.home) == stored
        assert _leftovers(mirror.home) == []
        assert _blob_rows(mirror.home) == rows
        # the file is not poisoned: upstream at full speed, the next request gets it
        archive_server.clear_rules()
        r = server.get(f"/v/1.0.0/debian/{bigs[0].filename}")
        assert r.status_code == 200 and r.content == arc.deb_path(bigs[0]).read_bytes()


def test_many_requests_for_one_slow_file_make_one_upstream_get(
    mirror: Mirror, tmp_path: Path, gpg_key: GpgKey, archive_server: ArchiveServer
) -> None:
    pkg = _big("slow", 96 * 1024)
    arc = _archive(tmp_path, gpg_key, archive_server, [pkg])
    mirror.add(arc)
    mirror.sync()
    good = arc.deb_path(pkg).read_bytes()
    archive_server.add_rule(f"*{pkg.filename}", rate=48 * 1024)  # about two seconds
    with serving(mirror.home, workers=3) as server, ThreadPoolExecutor(12) as pool:
        got = list(pool.map(lambda _: server.get(f"/v/1.0.0/debian/{pkg.filename}"), range(12)))
    assert [r.status_code for r in got] == [200] * 12
    assert all(r.content == good for r in got)
    assert _upstream_gets(archive_server, pkg.filename) == 1
    assert _leftovers(mirror.home) == []


def test_clients_that_hang_up_give_their_place_among_the_waiters_back(
    mirror: Mirror, tmp_path: Path, gpg_key: GpgKey, archive_server: ArchiveServer
) -> None:
    pkg = _big("slow", 256 * 1024)
    arc = _archive(tmp_path, gpg_key, archive_server, [pkg])
    mirror.add(arc)
    mirror.sync()
    archive_server.add_rule(f"*{pkg.filename}", rate=8192)  # half a minute
    path = f"/v/1.0.0/debian/{pkg.filename}"
    env = {"REPOVERSION_FETCH_WAITERS": "2", "REPOVERSION_FETCH_DEADLINE": "120"}
    with serving(mirror.home, workers=1, **env) as server:
        # what apt 2.6 does after 30 s without a byte: hang up, ask again
        for _ in range(4):
            with pytest.raises(requests.ReadTimeout):
                server.get(path, timeout=1)
        # two places: had the clients that left kept theirs, this would be a 503 now
        with pytest.raises(requests.ReadTimeout):
            server.get(path, timeout=2)
    assert _upstream_gets(archive_server, pkg.filename) == 1


def test_requests_beyond_the_waiting_bound_get_503_with_retry_after(
    mirror: Mirror, fixture_archive, archive_server: ArchiveServer, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("one", "1.0"), Pkg("two", "1.0"), Pkg("three", "1.0")])
    mirror.add(arc)
    mirror.sync()
    path = {p.name: f"/v/1.0.0/debian/{p.filename}" for p in arc.packages()}
    one, two, three = path["one"], path["two"], path["three"]
    archive_server.add_rule("*/pool/*", rate=64)
    srv = serve(REPOVERSION_FETCH_WAITERS="2", REPOVERSION_FETCH_DEADLINE="4")
    with ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(srv.get, path) for path in (one, two)]
        _wait_until(lambda: _upstream_gets(archive_server, "/pool/") == 2, "no download")
        r = srv.get(three)
        assert r.status_code == 503 and r.headers["Retry-After"] == "10"
        assert r.headers["Cache-Control"] == "no-store"
        assert r.json()["code"] == "busy" and "try again" in r.json()["message"]
        assert srv.get("/healthz").status_code == 200
        assert [f.result().status_code for f in waiting] == [504, 504]
    archive_server.clear_rules()
    assert srv.get(three).status_code == 200  # the bound is on waiting, not on a file


def test_the_deadline_ends_retries_too(
    mirror: Mirror, fixture_archive, archive_server, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    pkg = arc.packages()[0]
    archive_server.fail(f"*{pkg.filename}", 503)
    # alone, 30 retries with doubling back-off would take days
    srv = serve(REPOVERSION_DOWNLOAD_RETRIES="30", REPOVERSION_FETCH_DEADLINE="2")
    r = srv.get(f"/v/1.0.0/debian/{pkg.filename}")
    assert r.status_code == 504 and r.json()["code"] == "fetch_deadline"
    assert 1 < _upstream_gets(archive_server, pkg.filename) < 30
    assert _leftovers(mirror.home) == []


def test_verbatim_fetches_only_mirrored_architectures(
    mirror: Mirror, fixture_archive, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("hello", "1.0", architecture="arm64")])
    mirror.add(arc, "--mode", "verbatim")  # amd64 only
    mirror.sync()
    srv = serve()
    base = "/v/1.0.0/debian/dists/bookworm"
    before = _digests(mirror.home)
    arm = arc.listings["bookworm"]["main/binary-arm64/Packages.xz"]
    for path in (
        "main/binary-arm64/Packages.xz",
        "main/binary-arm64/Packages",
        f"main/binary-arm64/by-hash/SHA256/{arm.sha256}",
    ):
        r = srv.get(f"{base}/{path}")
        assert r.status_code == 404, path
        assert r.headers["Cache-Control"] == "no-store" and r.json()["code"] == "not_found"
    assert _digests(mirror.home) == before
    # what it mirrors stays fetchable on demand, listed variants included
    r = srv.get(f"{base}/main/binary-amd64/Packages.gz")
    assert r.status_code == 200
    assert r.content == arc.read("dists/bookworm/main/binary-amd64/Packages.gz")


def test_pool_misses_do_not_evict_hits(mirror: Mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    pool = arc.packages()[0].filename
    ctx = Context(load_settings(mirror.home, environ={"REPOVERSION_NOW": NOW}))
    serving_ = Serving(ctx, cache_size=4)
    queries: list[str] = []
    event.listen(ctx.engine, "before_cursor_execute", lambda *a: queries.append(a[2]))
    try:
        resolved = serving_.resolve("1.0.0")
        hit = serving_.target(resolved, "debian", pool)
        for i in range(50):  # anonymous requests for paths no version has
            with pytest.raises(NotFound):
                serving_.target(resolved, "debian", f"pool/main/x/x{i}/x{i}_1_amd64.deb")
        queries.clear()
        assert serving_.target(resolved, "debian", pool) == hit
        assert queries == []  # still cached
    finally:
        serving_.close()
        ctx.close()


def test_a_lock_is_never_waited_on_past_its_deadline(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "x.lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock_until(path, lambda: 30.0):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(30)
        end = time.monotonic() + 0.3
        with pytest.raises(LockTimeout), lock_until(path, lambda: end - time.monotonic()):
            pass
    finally:
        release.set()
        thread.join(30)
    assert not path.exists()  # removed by its last holder
    with lock_until(path, lambda: 1.0):  # and free again
        assert path.exists()


def test_serve_refuses_waiters_that_could_take_every_thread(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    env = {"REPOVERSION_THREADS": "8", "REPOVERSION_FETCH_WAITERS": "8"}
    result = run_cli("--home", str(home), "serve", env=env)
    assert result.code != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: fetch_waiters (8) must be smaller than threads (8), or requests waiting "
        "for upstream take every thread."
    ]
