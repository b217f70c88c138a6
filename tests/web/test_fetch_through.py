"""On-demand fetch-through and ``repoversion materialize``, against real fixture upstreams.

Every test runs on SQLite and on PostgreSQL (``mirror = mirror_on_db``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import Blob
from repoversion.db.session import transaction
from tests.fixtures.archives import Pkg, SrcPkg
from tests.web.promtext import Samples
from tests.web.running import CLI, free_port, mirror_on_db, server_env

mirror = mirror_on_db  # every test here on SQLite and on PostgreSQL


def _blob_rows(home: Path) -> set[str]:
    ctx = Context(load_settings(home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            return set(s.scalars(select(Blob.sha256)))
    finally:
        ctx.close()


def _stored(home: Path, sha: str) -> bool:
    return (home / "blobs" / "sha256" / sha[:2] / sha[2:]).is_file()


def _gets(server, suffix: str) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in server.log if r.method == "GET" and r.path.endswith(suffix))


def test_mismatch_upstream_sends_no_byte_and_stores_nothing(mirror, fixture_archive, serve) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    pkg = arc.packages()[0]
    good = arc.deb_path(pkg).read_bytes()
    sha = hashlib.sha256(good).hexdigest()
    srv = serve(REPOVERSION_DOWNLOAD_RETRIES="0")
    path = f"/v/1.0.0/debian/{pkg.filename}"
    for bad in (good[:-10] + b"X" * 10, good + b"more", good[: len(good) // 2]):
        arc.write(pkg.filename, bad)
        r = srv.get(path)
        assert r.status_code == 502, r.content[:100]
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["Content-Type"] == "application/json"
        body = r.json()
        assert body["code"] == "digest_mismatch" and pkg.filename in body["message"]
        assert not _stored(mirror.home, sha)
    assert sha not in _blob_rows(mirror.home)
    assert not list((mirror.home / "blobs" / "tmp").glob("*"))
    arc.write(pkg.filename, good)
    r = srv.get(path)
    assert r.status_code == 200 and r.content == good
    assert _stored(mirror.home, sha) and sha in _blob_rows(mirror.home)


def test_upstream_gone_or_failing_is_a_clear_uncached_error(
    mirror, fixture_archive, archive_server, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("other", "1.0")])
    mirror.add(arc)
    mirror.sync()
    hello, other = arc.packages()
    srv = serve(REPOVERSION_DOWNLOAD_RETRIES="0")
    before = Samples.parse(srv.get("/metrics").text)  # this process may have counted before
    arc.delete(hello.filename)
    r = srv.get(f"/v/1.0.0/debian/{hello.filename}")
    assert r.status_code == 404 and r.headers["Cache-Control"] == "no-store"
    assert r.json()["code"] == "upstream_gone" and "materialize" in r.json()["message"]
    archive_server.fail(f"*{other.filename}", 503)
    r = srv.get(f"/v/1.0.0/debian/{other.filename}")
    assert r.status_code == 502 and r.headers["Cache-Control"] == "no-store"
    assert r.json()["code"] == "bad_upstream" and "503" in r.json()["message"]
    after = Samples.parse(srv.get("/metrics").text)
    for reason in ("upstream_not_found", "bad_upstream"):
        name = "repoversion_fetch_failures_total"
        assert after.total(name, reason=reason) - before.total(name, reason=reason) == 1


def test_simultaneous_requests_cause_one_upstream_download(
    mirror, fixture_archive, archive_server, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    pkg = arc.packages()[0]
    good = arc.deb_path(pkg).read_bytes()
    archive_server.add_rule(f"*{pkg.filename}", delay=0.5)
    srv = serve()
    url = f"{srv.url}/v/1.0.0/debian/{pkg.filename}"
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: requests.get(url, timeout=30), range(8)))
    assert [r.status_code for r in got] == [200] * 8
    assert all(r.content == good for r in got)
    assert _gets(archive_server, pkg.filename) == 1


def test_gunicorn_workers_share_one_download_and_metrics(
    mirror, fixture_archive, archive_server
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    pkg = arc.packages()[0]
    good = arc.deb_path(pkg).read_bytes()
    archive_server.add_rule(f"*{pkg.filename}", delay=0.8)
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        env=server_env(mirror.home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # not listening, or not answering yet
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        url = f"{base}/v/1.0.0/debian/{pkg.filename}"

        def fetch(_: int) -> requests.Response:
            with requests.Session() as s:  # a connection each: spread over the workers
                return s.get(url, timeout=30)

        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(fetch, range(16)))
        assert all(r.status_code == 200 and r.content == good for r in got)
        assert _gets(archive_server, pkg.filename) == 1
        r = requests.get(url, headers={"Range": "bytes=3-9"}, timeout=30)
        assert r.status_code == 206 and r.content == good[3:10]
        samples = Samples.parse(requests.get(f"{base}/metrics", timeout=30).text)
        route = "/v/<ref>/<path:rest>"
        assert samples.total("repoversion_http_requests_total", route=route, status="200") == 16
        assert samples.total("repoversion_http_requests_total", route=route, status="206") == 1
        assert samples.total("repoversion_fetch_downloads_total") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_materialize_stores_every_pool_file_once(mirror, fixture_archive, archive_server) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive(
        [Pkg("hello", "1.0"), Pkg("libfoo1", "2.0"), SrcPkg("hello", "1.0-1")],
    )
    mirror.add(arc, archs=("amd64", "source"))
    mirror.sync()
    src = next(p for p in arc.suites["bookworm"] if isinstance(p, SrcPkg))
    files = [p.filename for p in arc.packages()]
    files += [f"{src.directory}/{name}" for name in src.artifacts()]
    for f in files:
        archive_server.add_rule(f"*{f}", delay=0.3)
    # three processes at once: every file still crosses the network once
    procs = [
        subprocess.Popen(
            [*CLI, "materialize", "1.0.0", "--json"],
            env=server_env(mirror.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    results = [json.loads(out) for out, _ in outs]
    assert sum(r["downloaded"] for r in results) == len(files) == 5
    assert all(r["files"] == 5 and r["failed"] == [] for r in results)
    for f in files:
        assert _gets(archive_server, f) == 1, f
        assert _stored(mirror.home, arc.sha256(f)), f
    again = mirror.cli("materialize", "1.0.0", "--json")
    assert again.code == 0 and json.loads(again.stdout)["present"] == 5
    plain = mirror.cli("materialize", "latest")
    assert plain.code == 0 and "0 downloaded" in plain.stdout


def test_materialize_a_lockfile_and_report_failures(mirror, fixture_archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("libfoo1", "2.0")])
    mirror.add(arc)
    mirror.sync()
    hello, libfoo = arc.packages()

    def entry(p: Pkg) -> dict[str, object]:
        data = arc.deb_path(p).read_bytes()
        return {
            "name": p.name,
            "archive": "debian",
            "filename": p.filename,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }

    lock = tmp_path / "repoversion.lock.json"
    lock.write_text(json.dumps({"format": 1, "repoversion": "1.0.0", "packages": [entry(hello)]}))
    out = mirror.cli("materialize", "1.0.0", "--lockfile", str(lock), "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["downloaded"] == 1
    assert _stored(mirror.home, entry(hello)["sha256"])  # type: ignore[arg-type]
    assert not _stored(mirror.home, entry(libfoo)["sha256"])  # type: ignore[arg-type]

    bad = {**entry(libfoo), "sha256": "0" * 64}
    lock.write_text(json.dumps({"packages": [bad]}))
    out = mirror.cli("materialize", "1.0.0", "--lockfile", str(lock))
    assert out.code == 1 and "is not in repoversion 1.0.0" in out.stderr
    assert "Traceback" not in out.stderr

    arc.delete(libfoo.filename)
    out = mirror.cli("materialize", "1.0.0", "--json")
    assert out.code == 1
    report = json.loads(out.stdout)
    assert [f["path"] for f in report["failed"]] == [libfoo.filename]
    assert "1 of 2 files could not be downloaded" in out.stderr
