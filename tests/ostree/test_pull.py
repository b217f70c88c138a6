"""The real ``ostree`` client against a running server: remote add with the server's key,
pull with GPG verification on, checkout, and what ``/ostree/`` serves and caches."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from repoversion.ostree.export import control_ref, data_ref
from tests.fixtures.archives import Pkg
from tests.ostree.conftest import Home, client_of, ostree
from tests.ostree.debs import RICH, build_deb, sha256
from tests.web.running import serving

IMMUTABLE = "public, max-age=31536000, immutable"


def test_pull_and_checkout_with_gpg_verification(
    exporting: Home, fixture_archive: Any, tmp_path: Path
) -> None:
    archive = fixture_archive(
        [Pkg("hello", "1.0", files={"usr/bin/hello": b"#!/bin/sh\necho hello\n"})],
        suite="bookworm",
    )
    m = exporting.mirror
    m.add(archive)
    m.sync()
    assert m.cli("ostree", "export", "--version", "1.0.0", "hello").code == 0
    hello = archive.sha256(Pkg("hello", "1.0").filename)
    rich = build_deb(RICH, compression="zst")
    [exported] = exporting.export(rich)
    with serving(m.home) as server:
        key = tmp_path / "repoversion.asc"
        key.write_bytes(server.get("/keys/repoversion.asc").content)
        client = client_of(tmp_path, server.url, key)
        assert client.pull(data_ref(sha256(rich))) == exported.data_commit
        assert client.pull(control_ref(sha256(rich))) == exported.control_commit
        client.pull(data_ref(hello))
        # a client trusting another key refuses the same commits
        other = client_of(tmp_path / "o", server.url, _other_key(tmp_path))
        refused = other.run("pull", "rv", data_ref(sha256(rich)))
        assert refused.returncode != 0
        assert "GPG" in refused.stderr or "signature" in refused.stderr.lower()

    verified = client.run("show", f"rv:{data_ref(sha256(rich))}")
    assert "Good signature" in verified.stdout, verified.stdout + verified.stderr
    root = client.checkout(data_ref(sha256(rich)), tmp_path / "root")
    tool = root / "usr/bin/tool"
    assert tool.read_bytes() == b"#!/bin/sh\necho tool\n"
    assert stat.S_IMODE(tool.stat().st_mode) == 0o755
    assert os.readlink(root / "usr/bin/tool-link") == "tool"
    assert os.readlink(root / "usr/bin/abs-link") == "/lib64/ld-linux-x86-64.so.2"
    assert (root / "usr/bin/hard").read_bytes() == tool.read_bytes()
    assert (root / "usr/bin/hard").stat().st_ino == tool.stat().st_ino
    assert stat.S_IMODE((root / "etc/tool.conf").stat().st_mode) == 0o640
    # bare-user keeps setuid/setgid and ownership in its metadata, as ostree ls shows
    ls = ostree("ls", f"rv:{data_ref(sha256(rich))}", "/usr/bin", repo=client.repo)
    assert "-04755 0 0" in ls and "-02755 0 42" in ls
    control = client.checkout(control_ref(sha256(rich)), tmp_path / "control")
    assert (control / "control").read_text().startswith("Package: tool\n")
    hello_root = client.checkout(data_ref(hello), tmp_path / "hello")
    assert (hello_root / "usr/bin/hello").read_bytes() == b"#!/bin/sh\necho hello\n"


def _other_key(tmp_path: Path) -> Path:
    """A public key that signed nothing here."""
    import subprocess

    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    run = {"capture_output": True, "check": True}
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key",
         "Other <other@example.invalid>", "ed25519", "sign", "never"], **run,
    )  # fmt: skip
    out = subprocess.run(["gpg", "--homedir", str(home), "--armor", "--export"], **run).stdout
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
    path = tmp_path / "other.asc"
    path.write_bytes(out)
    return path


def test_what_ostree_serves_and_how_it_is_cached(exporting: Home) -> None:
    [exported] = exporting.export(build_deb(RICH))
    ref = data_ref(exported.sha256)
    commit = exported.data_commit
    with serving(exporting.mirror.home) as server:
        for path in ("/ostree/config", "/ostree/summary", "/ostree/summary.sig",
                     f"/ostree/refs/heads/{ref}"):  # fmt: skip
            resp = server.get(path)
            assert resp.status_code == 200, path
            assert resp.headers["Cache-Control"] == "no-cache", path
        assert server.get(f"/ostree/refs/heads/{ref}").text.strip() == commit
        obj = server.get(f"/ostree/objects/{commit[:2]}/{commit[2:]}.commit")
        assert obj.status_code == 200
        assert obj.headers["Cache-Control"] == IMMUTABLE
        ranged = server.get(
            f"/ostree/objects/{commit[:2]}/{commit[2:]}.commit", headers={"Range": "bytes=0-3"}
        )
        assert ranged.status_code == 206 and len(ranged.content) == 4
        for bad in (
            "/ostree/%2e%2e/repoversion.toml",
            "/ostree/objects/%2e%2e/%2e%2e/repoversion.toml",
            "/ostree//etc/passwd",
            "/ostree/.repoversion-summary.lock",
            "/ostree/tmp",
            "/ostree/state",
            "/ostree/objects",
            "/ostree/refs/remotes/x",
            "/ostree/refs/heads/dpkg/data",
            "/ostree/objects/%00",
            "/ostree/nope",
        ):
            resp = server.get(bad)
            assert resp.status_code == 404, bad
            assert resp.headers["Cache-Control"] == "no-store", bad


@pytest.mark.parametrize("target", ["/etc/passwd", "../../repoversion.toml"])
def test_a_symlink_planted_in_the_repository_is_not_followed(exporting: Home, target: str) -> None:
    exporting.export(build_deb(RICH))
    (exporting.repo / "objects" / "zz").mkdir()
    (exporting.repo / "objects" / "zz" / "planted").symlink_to(target)
    with serving(exporting.mirror.home) as server:
        assert server.get("/ostree/objects/zz/planted").status_code == 404
