"""``/l/<id>/``: a stored lockfile as an apt repository, checked with the real apt-get.

The lockfile is stored through the API (``POST /api/v1/lockfiles``) of the app served on
loopback; apt, isolated (tests/fixtures/apt.py), is pointed at ``/l/<id>/debian`` only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from repoversion.context import Context
from repoversion.serving import lockrepo
from tests.fixtures.apt import AptClient
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import Mirror
from tests.resolve.conftest import lock_cli
from tests.web.conftest import Server

#: what ``lock tool hello`` installs from the world archive
LOCKED = ["hello", "libc6", "mta-one", "perl", "tool"]


def token(mirror: Mirror, scope: str = "write") -> str:
    created = mirror.cli("token", "create", f"t-{scope}", "--scope", scope, "--json")
    assert created.code == 0, created.stderr
    return str(json.loads(created.stdout)["token"])


def store(srv: Server, data: bytes, secret: str) -> dict[str, Any]:
    """``POST /api/v1/lockfiles`` with ``data``; the answer of a 201."""
    resp = requests.post(
        f"{srv.url}/api/v1/lockfiles",
        data=data,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert resp.status_code == 201, resp.text
    answer: dict[str, Any] = resp.json()
    return answer


@pytest.fixture
def stored(
    world_mirror: Mirror, serve: Callable[..., Server]
) -> tuple[Server, bytes, dict[str, Any]]:
    """The world archive's ``tool hello`` lockfile, stored on a served app."""
    srv = serve()
    data = lock_cli(world_mirror, "tool", "hello").stdout.encode()
    return srv, data, store(srv, data, token(world_mirror))


def test_apt_installs_exactly_the_lockfile_from_its_source(
    world_mirror: Mirror,
    world_archive: FixtureArchive,
    stored: tuple[Server, bytes, dict[str, Any]],
    server_key: str,
    apt_client: AptClient,
) -> None:
    srv, data, answer = stored
    lock = json.loads(data)
    assert answer["id"] == hashlib.sha256(data.rstrip(b"\n")).hexdigest()
    base = f"{srv.url}/l/{answer['id']}/debian"
    keyring = "/etc/apt/keyrings/repoversion.gpg"
    assert answer["sources"] == [
        f"deb [signed-by={keyring}] {base} bookworm main",
        f"deb [signed-by={keyring}] {base} bookworm-backports main",
    ]
    apt_client.set_sources(line.replace(keyring, server_key) for line in answer["sources"])
    apt_client.update()  # signatures checked: no warning passes

    debs = apt_client.install_download_only(["tool", "hello"])
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in debs}
    assert got == {p["filename"].rsplit("/", 1)[1]: p["sha256"] for p in lock["packages"]}
    assert sorted(p["name"] for p in lock["packages"]) == LOCKED
    # the whole index is the lockfile: nothing else can be installed, nor another version
    assert _available(apt_client) == {(p["name"], p["version"]) for p in lock["packages"]}
    unlocked = apt_client.run("install", "-s", "clash")
    assert "Unable to locate package clash" in "\n".join(unlocked.errors)
    older = apt_client.run("install", "-s", "hello=1.0-1")
    assert "Version '1.0-1' for 'hello' was not found" in "\n".join(older.errors)
    # /v/1.0.0/ serves both; /l/ only what was locked
    clash = next(p for p in world_archive.packages("bookworm") if p.name == "clash")
    assert srv.get(f"/v/1.0.0/debian/{clash.filename}").status_code == 200
    assert srv.get(f"/l/{answer['id']}/debian/{clash.filename}").status_code == 404

    # a newer hello published later, in a newer repoversion, is not offered
    world_archive.add(Pkg("hello", "3.0-1", depends="libc6"), suite="bookworm")
    world_archive.publish()
    assert world_mirror.sync()["repoversion"] == "1.1.0"
    apt_client.update()
    assert apt_client.simulate(["hello"]) == [
        ("libc6", "2.36-9", "amd64"),
        ("hello", "2.0-1", "amd64"),
    ]
    assert _available(apt_client) == {(p["name"], p["version"]) for p in lock["packages"]}


def _available(apt: AptClient) -> set[tuple[str, str]]:
    """(name, version) of every package apt knows, from ``apt-cache dumpavail``."""
    out = apt.cache("dumpavail").stdout
    found = set()
    for stanza in out.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if "Package" in fields:
            found.add((fields["Package"], fields["Version"]))
    return found


def test_the_repository_is_the_versions_own_stanzas_and_the_same_bytes_everywhere(
    world_mirror: Mirror,
    stored: tuple[Server, bytes, dict[str, Any]],
    serve: Callable[..., Server],
) -> None:
    srv, data, answer = stored
    lock = json.loads(data)
    prefix = f"/l/{answer['id']}/debian/dists/bookworm-backports"
    release = srv.get(f"{prefix}/Release")
    assert release.status_code == 200
    assert release.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert release.headers["ETag"] == f'"{hashlib.sha256(release.content).hexdigest()}"'
    text = release.text
    assert text.startswith("Origin: repoversion\nLabel: repoversion-lockfile\n")
    assert "Snapshots: no\n" in text and "Date: Sun, 01 Jun 2025 00:00:00 UTC\n" in text
    assert "Architectures: amd64\n" in text and "Components: main\n" in text

    packages = srv.get(f"{prefix}/main/binary-amd64/Packages").content
    assert gzip.decompress(srv.get(f"{prefix}/main/binary-amd64/Packages.gz").content) == packages
    digest = hashlib.sha256(packages).hexdigest()
    assert f" {digest} " in text
    assert srv.get(f"{prefix}/main/binary-amd64/by-hash/SHA256/{digest}").content == packages
    # byte for byte the stanza the version's own index holds
    gz = srv.get("/v/1.0.0/debian/dists/bookworm-backports/main/binary-amd64/Packages.gz")
    stanzas = {s.strip("\n") for s in gzip.decompress(gz.content).decode().split("\n\n")}
    mine = packages.decode().split("\n\n")
    assert [s.split("\n", 1)[0] for s in mine] == ["Package: hello"]
    assert mine[0].strip("\n") in stanzas

    # another app over the same home serves the same bytes for every file
    other = serve()
    paths = [
        f"/l/{answer['id']}/debian/dists/{suite}/{name}"
        for suite in ("bookworm", "bookworm-backports")
        for name in (
            "InRelease",
            "Release",
            "Release.gpg",
            "main/binary-amd64/Packages",
            "main/binary-amd64/Packages.gz",
        )
    ] + [f"/l/{answer['id']}/debian/{p['filename']}" for p in lock["packages"]]
    for path in paths:
        a, b = srv.get(path), other.get(path)
        assert (a.status_code, b.status_code) == (200, 200), path
        assert a.content == b.content, path
    # and generating them again gives the same indices and Release
    ctx = Context(srv.serving.settings)
    try:
        version = srv.serving.resolve("1.0.0").version
        first, again = (lockrepo.generate(ctx, lock, version) for _ in range(2))
    finally:
        ctx.close()
    for name in ("Release", "main/binary-amd64/Packages", "main/binary-amd64/Packages.gz"):
        key = f"debian/bookworm/{name}"
        assert (
            first[key]
            == again[key]
            == srv.get(f"/l/{answer['id']}/{key.replace('debian/', 'debian/dists/', 1)}").content
        )


def test_what_is_not_in_the_repository_is_a_404(
    stored: tuple[Server, bytes, dict[str, Any]],
) -> None:
    srv, _, answer = stored
    lock_id = answer["id"]
    for path in (
        f"/l/{'0' * 64}/debian/dists/bookworm/InRelease",  # no such lockfile
        "/l/nothex/debian/dists/bookworm/InRelease",
        f"/l/{lock_id}/other/dists/bookworm/InRelease",  # no such archive
        f"/l/{lock_id}/debian/dists/bookworm-updates/InRelease",
        f"/l/{lock_id}/debian/dists/bookworm/main/binary-arm64/Packages",
        f"/l/{lock_id}/debian/dists/../../../../v/1.0.0/index.json",
        f"/l/{lock_id}/debian/dists/%2e%2e/%2e%2e/%2e%2e/%2e%2e/v/1.0.0/index.json",
        f"/l/{lock_id}/debian/pool/main/c/clash/x.deb",
        f"/l/{lock_id}/debian",
    ):
        status, headers, body = srv.raw(path)  # sent as it is: no client removes a ".."
        assert status == 404, path
        assert headers["cache-control"] == "no-store", path
        assert set(json.loads(body)) == {"code", "message"}
