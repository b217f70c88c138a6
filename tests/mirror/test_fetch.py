"""Upstream access: by-hash with fallback, immediate downloads, auth.conf, a CA per archive."""

from __future__ import annotations

import hashlib
import sqlite3

from repoversion.upstream.http import find_credentials, parse_auth_conf
from tests.fixtures.archives import Pkg


def test_by_hash_is_used_and_falls_back_on_404(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    assert any("/by-hash/SHA256/" in p for p in arc.requests)
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    arc.server.fail("*/by-hash/*", 404)
    before = len(arc.requests)
    assert mirror.sync()["repoversion"] == "1.1.0"
    fetched = arc.requests[before:]
    assert any(
        p.endswith("main/binary-amd64/Packages.xz") or p.endswith("main/binary-amd64/Packages.gz")
        for p in fetched
    ), fetched


def test_falls_back_to_release_and_release_gpg(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")], signatures="detached")
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    assert any(p.endswith("dists/bookworm/Release.gpg") for p in arc.requests)


def test_unchanged_sync_downloads_no_index(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    before = len(arc.requests)
    mirror.sync()
    assert [p for p in arc.requests[before:] if "Packages" in p] == []


def test_immediate_policy_stores_every_pool_file_verified(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    pkgs = [Pkg(f"p{i}", "1.0", files={f"usr/share/p{i}": b"x" * i}) for i in range(6)]
    arc = fixture_archive(pkgs)
    mirror.add(arc, "--policy", "immediate")
    mirror.sync()
    con = sqlite3.connect(mirror.home / "repoversion.db")
    stored = {row[0] for row in con.execute("SELECT sha256 FROM blob")}
    wanted = {row[0] for row in con.execute("SELECT sha256 FROM package")}
    con.close()
    assert len(wanted) == 6 and wanted <= stored
    for pkg in pkgs:
        digest = hashlib.sha256(arc.deb_path(pkg).read_bytes()).hexdigest()
        assert (mirror.home / "blobs" / "sha256" / digest[:2] / digest[2:]).is_file()


def test_immediate_policy_refuses_a_pool_file_that_does_not_match(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0", index_overrides={"SHA256": "0" * 64})])
    mirror.add(arc, "--policy", "immediate")
    message = mirror.sync_fails()
    assert "hello" in message and "SHA256" in message
    assert mirror.versions() == []
    assert not (mirror.home / "blobs/sha256/00").exists()


def test_auth_conf_credentials(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    arc.server.require_auth("user", "s3cret", "/debian/*")
    mirror.add(arc)
    assert "auth.conf" in mirror.sync_fails()
    host = arc.url.split("://", 1)[1]
    (mirror.home / "auth.conf").write_text(
        f"# private upstream\nmachine http://{host} login user password s3cret\n"
    )
    assert mirror.sync()["repoversion"] == "1.0.0"


def test_auth_conf_matching_rules() -> None:
    entries = parse_auth_conf(
        "machine example.org/private login a password b\n"
        "machine http://plain.example:8080 login c password d\n"
    )
    assert find_credentials(entries, "https://example.org/private/debian/") == ("a", "b")
    assert find_credentials(entries, "http://example.org/private/debian/") is None
    assert find_credentials(entries, "https://example.org/public/") is None
    assert find_credentials(entries, "http://plain.example:8080/x") == ("c", "d")
    assert find_credentials(entries, "http://plain.example:9090/x") is None


def test_https_upstream_with_its_own_ca(mirror, fixture_archive, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import functools
    import http.server
    import ssl
    import subprocess
    import threading

    arc = fixture_archive([Pkg("hello", "1.0")])
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(arc.root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{httpd.server_address[1]}"
        mirror.add_url("tls", url, arc.keyring_path)
        assert "TLS certificate not trusted" in mirror.sync_fails()
        assert mirror.cli("archive", "remove", "tls").code == 0
        mirror.add_url("tls", url, arc.keyring_path, "--ca", str(cert))
        assert mirror.sync()["repoversion"] == "1.0.0"
    finally:
        httpd.shutdown()


def test_http_proxy_from_the_environment(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    """``http_proxy`` is honoured: every upstream request goes through the proxy."""
    import http.server
    import threading
    import urllib.request

    seen: list[str] = []
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.path)
            try:
                with direct.open(self.path, timeout=10) as upstream:
                    body, status = upstream.read(), upstream.status
            except urllib.error.HTTPError as exc:
                body, status = b"", exc.code
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    arc = fixture_archive([Pkg("hello", "1.0")])
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        mirror.add(arc)
        mirror.env.update(
            {"http_proxy": f"http://127.0.0.1:{proxy.server_address[1]}", "no_proxy": ""}
        )
        assert mirror.sync()["repoversion"] == "1.0.0"
    finally:
        proxy.shutdown()
    assert any(p.startswith(arc.url) and p.endswith("/InRelease") for p in seen), seen


def test_progress_reports_every_stage_to_completion(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.mirror.sync import run_sync

    arc = fixture_archive([Pkg(f"p{i}", "1.0") for i in range(3)])
    mirror.add(arc, "--policy", "immediate")
    seen: dict[str, tuple[int, int]] = {}
    ctx = Context(load_settings(mirror.home, environ=mirror.env))
    try:
        result = run_sync(
            ctx, progress=lambda stage, done, total: seen.__setitem__(stage, (done, total))
        )
    finally:
        ctx.close()
    assert result.repoversion == "1.0.0"
    assert seen["debian/bookworm"] == (1, 1)
    assert seen["debian pool"] == (3, 3)
    assert seen["commit"] == (1, 1)
    index = seen["debian/bookworm main/binary-amd64/Packages"]
    assert index[0] == index[1] > 100


def test_an_index_that_cannot_be_stored_fails_the_sync_and_commits_nothing(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, monkeypatch
) -> None:
    """Index files are written by a background thread while they decode; the commit
    waits for every write, so a failed one stops the sync before any row."""
    from repoversion.errors import StorageError
    from repoversion.storage.filesystem import FileSystemStore

    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    original = FileSystemStore.put_bytes

    def full_disk(self, data, expected_sha256=None):  # type: ignore[no-untyped-def]
        if data.startswith((b"\xfd7zXZ", b"\x1f\x8b")):  # a compressed index
            raise StorageError("Cannot store blob: No space left on device")
        return original(self, data, expected_sha256)

    monkeypatch.setattr(FileSystemStore, "put_bytes", full_disk)
    assert "No space left on device" in mirror.sync_fails()
    assert mirror.versions() == ["1.0.0"]
    monkeypatch.setattr(FileSystemStore, "put_bytes", original)
    assert mirror.sync()["repoversion"] == "1.1.0"
