"""HTTP semantics of the file views: validators, ranges, HEAD, cache headers, refs, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import Repoversion
from repoversion.db.session import transaction
from tests.fixtures.archives import Pkg, SrcPkg
from tests.web.promtext import Samples

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def synced(mirror, fixture_archive):  # type: ignore[no-untyped-def]
    """One signed on_demand archive synced into 1.0.0: (archive, the hello package)."""
    arc = fixture_archive([Pkg("hello", "1.0"), SrcPkg("hello", "1.0-1")])
    mirror.add(arc, archs=("amd64", "source"))
    assert mirror.sync()["repoversion"] == "1.0.0"
    return arc, arc.packages()[0]


def _no_store_json(resp, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert set(body) == {"code", "message"}
    if code is not None:
        assert body["code"] == code, body
    return body


def test_pool_file_headers_validators_ranges_and_head(synced, serve) -> None:  # type: ignore[no-untyped-def]
    arc, pkg = synced
    data = arc.deb_path(pkg).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    srv = serve()
    path = f"/v/1.0.0/debian/{pkg.filename}"

    r = srv.get(path)
    assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == f'"{sha}"'
    assert r.headers["Cache-Control"] == IMMUTABLE
    assert r.headers["Content-Type"] == "application/vnd.debian.binary-package"
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Last-Modified"] == "Sun, 01 Jun 2025 00:00:00 GMT"
    assert r.headers["Accept-Ranges"] == "bytes"

    r = srv.get(path, headers={"If-None-Match": f'"other", "{sha}"'})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == f'"{sha}"' and r.headers["Cache-Control"] == IMMUTABLE
    assert srv.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    since = {"If-Modified-Since": "Sun, 01 Jun 2025 00:00:00 GMT"}
    assert srv.get(path, headers=since).status_code == 304
    old = "Sat, 01 Jan 2000 00:00:00 GMT"
    assert srv.get(path, headers={"If-Modified-Since": old}).status_code == 200

    r = srv.get(path, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert r.headers["Content-Length"] == "10" and r.headers["Cache-Control"] == IMMUTABLE
    r = srv.get(path, headers={"Range": "bytes=-7"})
    assert r.status_code == 206 and r.content == data[-7:]
    r = srv.get(path, headers={"Range": f"bytes={len(data) - 3}-"})
    assert r.status_code == 206 and r.content == data[-3:]
    r = srv.get(path, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{len(data)}"
    assert r.headers["Cache-Control"] == "no-store"
    r = srv.get(path, headers={"Range": "bytes=0-3", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == data
    r = srv.get(path, headers={"Range": "bytes=0-3", "If-Range": f'"{sha}"'})
    assert r.status_code == 206 and r.content == data[:4]

    r = srv.head(path)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(data)) and r.headers["ETag"] == f'"{sha}"'


def test_source_files_and_index_files_are_served(synced, serve) -> None:  # type: ignore[no-untyped-def]
    arc, _ = synced
    srv = serve()
    src = next(p for p in arc.suites["bookworm"] if isinstance(p, SrcPkg))
    for name in src.artifacts():
        r = srv.get(f"/v/1.0.0/debian/{src.directory}/{name}")
        assert r.status_code == 200 and r.content == arc.read(f"{src.directory}/{name}"), name
    r = srv.get("/v/1.0.0/debian/dists/bookworm/main/binary-amd64/Packages.gz")
    assert r.content == arc.read("dists/bookworm/main/binary-amd64/Packages.gz")
    assert r.headers["Content-Type"] == "application/gzip"
    # signed mode serves what it mirrored; the uncompressed name is only listed
    assert srv.get("/v/1.0.0/debian/dists/bookworm/main/binary-amd64/Packages").status_code == 404
    _no_store_json(srv.get("/v/1.0.0/debian/pool/main/n/nope/nope_1_amd64.deb"), 404)
    _no_store_json(srv.get("/v/1.0.0/other/dists/bookworm/Release"), 404)
    _no_store_json(srv.get("/v/1.0.0/debian/dists/sid/Release"), 404)
    _no_store_json(srv.get("/v/9.9.9/debian/dists/bookworm/Release"), 404)


def test_generated_release_is_what_apt_and_debootstrap_need(synced, serve, mirror) -> None:  # type: ignore[no-untyped-def]
    arc, _ = synced
    srv = serve()
    base = "/v/1.0.0/debian/dists/bookworm"
    release = srv.get(f"{base}/Release")
    text = release.text
    assert release.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.endswith("\n") and "Valid-Until" not in text
    fields = dict(
        line.split(": ", 1) for line in text.splitlines() if ": " in line and line[0] != " "
    )
    assert fields["Date"] == "Sun, 01 Jun 2025 00:00:00 UTC"
    assert (fields["Origin"], fields["Suite"], fields["Codename"]) == (
        "Test",
        "bookworm",
        "bookworm",
    )
    assert fields["Acquire-By-Hash"] == "yes"
    assert fields["Architectures"] == "amd64" and fields["Components"] == "main"
    assert fields["Snapshots"] == f"{srv.url}/v/@SNAPSHOTID@/debian/"
    sections = [line for line in text.splitlines() if line.endswith(":")]
    assert sections == ["SHA256:", "MD5Sum:"]
    sha256_part, md5_part = text.split("SHA256:\n")[1].split("MD5Sum:\n")
    listed = {line.split()[2]: line.split()[0] for line in sha256_part.splitlines()}
    upstream = arc.listings["bookworm"]
    for path in ("main/binary-amd64/Packages", "main/source/Sources"):
        assert listed[path] == upstream[path].sha256, path
    assert len(md5_part.splitlines()) == len(listed)
    for path in listed:
        if path.endswith((".gz", ".xz")):
            assert srv.get(f"{base}/{path}").status_code == 200
    # by-hash, both listed hashes
    gz = upstream["main/binary-amd64/Packages.gz"]
    for algo, digest in (("SHA256", gz.sha256), ("MD5Sum", gz.md5)):
        r = srv.get(f"{base}/main/binary-amd64/by-hash/{algo}/{digest}")
        assert r.status_code == 200 and r.content == arc.read(
            "dists/bookworm/main/binary-amd64/Packages.gz"
        )
        assert r.headers["ETag"] == f'"{gz.sha256}"'
    _no_store_json(srv.get(f"{base}/main/binary-amd64/by-hash/SHA256/{'0' * 64}"), 404)

    # InRelease and Release.gpg: the server's key, over the same Release text
    inrelease = srv.get(f"{base}/InRelease").content
    gpg = srv.get(f"{base}/Release.gpg").content
    keyring = str(mirror.home / "keys" / "repoversion.gpg")
    out = subprocess.run(
        ["gpgv", "--keyring", keyring, "--output", "-", "-"],
        input=inrelease,
        capture_output=True,
        check=True,
    )
    assert out.stdout == release.content
    sig = mirror.home / "Release.gpg"
    sig.write_bytes(gpg)
    data = mirror.home / "Release"
    data.write_bytes(release.content)
    subprocess.run(
        ["gpgv", "--keyring", keyring, str(sig), str(data)], check=True, capture_output=True
    )
    # made once: another process (a new app) serves the very same bytes
    other = serve(REPOVERSION_PUBLIC_URL=srv.url)
    assert other.get(f"{base}/InRelease").content == inrelease
    assert other.get(f"{base}/Release.gpg").content == gpg


def test_verbatim_serves_upstream_files_and_fetches_listed_ones(
    mirror, fixture_archive, serve
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc, "--mode", "verbatim")
    mirror.sync()
    srv = serve()
    base = "/v/1.0.0/debian/dists/bookworm"
    assert srv.get(f"{base}/InRelease").content == arc.read("dists/bookworm/InRelease")
    stored = mirror.show("1.0.0")["archives"]["debian"]["suites"]["bookworm"]["files"]
    for name in ("Release", "Release.gpg"):  # served when the sync kept them
        r = srv.get(f"{base}/{name}")
        assert r.status_code == (200 if name in stored else 404), name
    # not mirrored, but listed by upstream's Release: fetched on demand and verified
    for path in ("main/binary-amd64/Packages", "main/binary-amd64/Packages.xz"):
        r = srv.get(f"{base}/{path}")
        assert r.status_code == 200 and r.content == arc.read(f"dists/bookworm/{path}"), path
    xz = arc.listings["bookworm"]["main/binary-amd64/Packages.xz"]
    r = srv.get(f"{base}/main/binary-amd64/by-hash/MD5Sum/{xz.md5}")
    assert r.status_code == 200 and r.headers["ETag"] == f'"{xz.sha256}"'
    _no_store_json(srv.get(f"{base}/main/binary-amd64/Packages.bz2"), 404)  # not listed
    # listed, but upstream has changed it since and dropped its by-hash copy: refused
    arc.write("dists/bookworm/main/binary-amd64/Packages.xz", b"changed upstream")
    arc.delete(f"dists/bookworm/main/binary-amd64/by-hash/SHA256/{xz.sha256}")
    srv.serving.store.delete(xz.sha256)
    body = _no_store_json(srv.get(f"{base}/main/binary-amd64/Packages.xz"), 502, "digest_mismatch")
    assert "Packages.xz" in body["message"]
    assert not srv.serving.store.exists(xz.sha256)


def test_index_json_and_packages_json(synced, serve, mirror) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    r = srv.get("/v/1.0.0/index.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == IMMUTABLE
    index = r.json()
    assert index == mirror.show("1.0.0")
    assert r.headers["ETag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    r = srv.get("/v/1.0.0/packages.json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    pkgs = r.json()
    assert [(p["name"], p["architecture"]) for p in pkgs] == [
        ("hello", "amd64"),
        ("hello", "source"),
    ]
    assert set(pkgs[0]) == {
        "name",
        "version",
        "architecture",
        "archive",
        "suite",
        "component",
        "filename",
        "sha256",
        "size",
    }
    assert pkgs[0]["archive"] == "debian" and pkgs[0]["suite"] == "bookworm"
    assert srv.get("/v/1.0.0/packages.json").content == r.content


def test_tags_latest_and_timestamps_resolve_and_revalidate(mirror, fixture_archive, serve) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    later = {"REPOVERSION_NOW": "2025-07-01T00:00:00Z"}
    assert mirror.run_cli("--home", str(mirror.home), "sync", env=later).code == 0
    assert mirror.run_cli("--home", str(mirror.home), "tag", "prod", "1.0.0", env=later).code == 0
    srv = serve()
    for ref, version in (
        ("latest", "1.1.0"),
        ("prod", "1.0.0"),
        ("20250601T000000Z", "1.0.0"),
        ("20250615T000000Z", "1.0.0"),
        ("20250701T000000Z", "1.1.0"),
    ):
        r = srv.get(f"/v/{ref}/index.json")
        assert r.status_code == 200, ref
        assert r.json()["repoversion"] == version, ref
        assert r.headers["Cache-Control"] == "no-cache", ref
        rel = srv.get(f"/v/{ref}/debian/dists/bookworm/InRelease")
        assert rel.status_code == 200 and rel.headers["Cache-Control"] == "no-cache"
    # under the tag, the Release is dated when the tag moved
    assert (
        "Date: Tue, 01 Jul 2025 00:00:00 UTC"
        in srv.get("/v/prod/debian/dists/bookworm/Release").text
    )
    assert (
        "Date: Sun, 01 Jun 2025 00:00:00 UTC"
        in srv.get("/v/1.0.0/debian/dists/bookworm/Release").text
    )
    _no_store_json(srv.get("/v/20200101T000000Z/index.json"), 404)
    _no_store_json(srv.get("/v/nosuchtag/index.json"), 404)


def test_dropped_version_answers_410(synced, serve, mirror) -> None:  # type: ignore[no-untyped-def]
    _, pkg = synced
    ctx = Context(load_settings(mirror.home, environ={}))
    with transaction(ctx.sessions) as s:
        s.execute(update(Repoversion).values(dropped=datetime(2025, 6, 2, tzinfo=UTC)))
    ctx.close()
    srv = serve()
    for path in ("/index.json", "/debian/dists/bookworm/InRelease", f"/debian/{pkg.filename}"):
        _no_store_json(srv.get(f"/v/1.0.0{path}"), 410, "gone")


ESCAPES = [
    "/v/1.0.0/debian/pool/../../../../etc/passwd",
    "/v/1.0.0/debian/pool/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/v/1.0.0/debian/pool/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/v/1.0.0/debian/dists/bookworm/../../../../../../etc/passwd",
    "/v/1.0.0/debian/dists/bookworm/main/..%2f..%2f..%2findex.json",
    "/v/1.0.0/debian/pool/main%00/passwd",
    "/v/1.0.0/debian/pool/..\\..\\..\\etc\\passwd",
    "/v/1.0.0/debian/pool//etc/passwd",
    "/v/1.0.0/debian//pool/main/h/hello/hello_1.0_amd64.deb",
    "/v/1.0.0/debian/pool/./main/h/hello/hello_1.0_amd64.deb",
    "/v/1.0.0/..%2f..%2fetc/passwd",
    "/v/..%2f..%2f/index.json",
    "/blobs/sha256/..%2f..%2f..%2fetc%2fpasswd",
    "/blobs/sha256/" + "A" * 64,
    "/keys/..%2frepoversion.db",
]


def test_paths_that_escape_are_404(synced, serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    _, pkg = synced
    assert srv.raw(f"/v/1.0.0/debian/{pkg.filename}")[0] == 200
    for path in ESCAPES:
        status, headers, body = srv.raw(path)
        assert status == 404, (path, status, body[:200])
        assert headers["cache-control"] == "no-store", path
        assert set(json.loads(body)) == {"code", "message"}, path


def test_keys_blobs_and_metrics(synced, serve, mirror) -> None:  # type: ignore[no-untyped-def]
    _, pkg = synced
    srv = serve()
    before = Samples.parse(srv.get("/metrics").text)  # this process may have counted before
    for name in ("repoversion.asc", "repoversion.gpg"):
        r = srv.get(f"/keys/{name}")
        assert r.status_code == 200 and r.content == (mirror.home / "keys" / name).read_bytes()
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["Content-Type"] == "application/pgp-keys"
        assert srv.get(f"/keys/{name}", headers={"Range": "bytes=0-3"}).content == r.content[:4]
        assert (
            srv.get(f"/keys/{name}", headers={"If-None-Match": r.headers["ETag"]}).status_code
            == 304
        )
    head = srv.head("/keys/repoversion.gpg")
    size = (mirror.home / "keys" / "repoversion.gpg").stat().st_size
    assert head.status_code == 200 and head.headers["Content-Length"] == str(size)
    _no_store_json(srv.get("/keys/other.gpg"), 404)
    index = srv.get("/v/1.0.0/index.json").content
    digest = hashlib.sha256(index).hexdigest()
    r = srv.get(f"/blobs/sha256/{digest}")
    assert r.status_code == 200 and r.content == index
    assert r.headers["Cache-Control"] == IMMUTABLE and r.headers["ETag"] == f'"{digest}"'
    _no_store_json(srv.get(f"/blobs/sha256/{'0' * 64}"), 404)
    deb = srv.get(f"/v/1.0.0/debian/{pkg.filename}").content  # one fetch-through
    srv.get("/v/1.0.0/nope/x")
    r = srv.get("/metrics")
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    after = Samples.parse(r.text)

    def grew(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    requests = "repoversion_http_requests_total"
    keys, blobs = "/keys/<name>", "/blobs/sha256/<digest>"
    assert grew(requests, route=keys, method="GET", status="200") == 2
    assert grew(requests, route=keys, method="GET", status="206") == 2
    assert grew(requests, route=keys, method="GET", status="304") == 2
    assert grew(requests, route=keys, method="HEAD", status="200") == 1
    assert grew(requests, route=keys, status="404") == 1
    assert grew(requests, route=blobs, status="200") == 1
    assert grew(requests, route=blobs, status="404") == 1
    assert grew(requests, route="/metrics") == 1  # the first scrape
    assert grew(requests, status="404") == 3
    assert grew("repoversion_http_response_bytes_total") >= len(deb) + len(index)
    assert grew("repoversion_fetch_downloads_total") == 1
    assert grew("repoversion_fetch_download_bytes_total") == len(deb)
    assert after.total("repoversion_versions") == 1
    assert after.types["repoversion_fetch_failures"] == "counter"


def test_x_accel_redirect_hands_stored_files_to_nginx(synced, serve) -> None:  # type: ignore[no-untyped-def]
    arc, pkg = synced
    srv = serve(REPOVERSION_X_ACCEL_REDIRECT="/_blobs/")
    sha = hashlib.sha256(arc.deb_path(pkg).read_bytes()).hexdigest()
    r = srv.get(f"/v/1.0.0/debian/{pkg.filename}")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["X-Accel-Redirect"] == f"/_blobs/sha256/{sha[:2]}/{sha[2:]}"
    assert r.headers["ETag"] == f'"{sha}"' and r.headers["Cache-Control"] == IMMUTABLE
    assert r.headers["Content-Type"] == "application/vnd.debian.binary-package"
    assert srv.serving.store.exists(sha)  # fetched through first


def test_s3_store_streams_and_presigns(
    mirror, fixture_archive, serve, s3_endpoint, s3_bucket
) -> None:  # type: ignore[no-untyped-def]
    import requests

    env = {
        "REPOVERSION_STORAGE_URL": f"s3://{s3_bucket}/rv",
        "REPOVERSION_S3_ENDPOINT_URL": s3_endpoint,
    }
    mirror.env.update(env)
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    data = arc.deb_path(arc.packages()[0]).read_bytes()
    path = f"/v/1.0.0/debian/{arc.packages()[0].filename}"
    plain = serve(**env)
    r = plain.get(path)
    assert r.status_code == 200 and r.content == data
    r = plain.get(path, headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == data[2:6]
    presigning = serve(**env, REPOVERSION_S3_PRESIGN="true")
    r = presigning.get(path)
    assert r.status_code == 302 and r.headers["Cache-Control"] == "no-store"
    assert requests.get(r.headers["Location"], timeout=30).content == data
