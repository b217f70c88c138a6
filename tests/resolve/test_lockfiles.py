"""Lockfiles through the command line: their bytes, their cache, and what is done with them
(``lockfile update``, ``verify``, ``sources``, ``apt-args``, ``materialize --lockfile``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import Mirror
from tests.resolve.conftest import lock_cli, write


def test_a_lockfile_is_canonical_and_names_what_the_server_serves(
    world_mirror: Mirror, serve: Any, tmp_path: Path
) -> None:
    srv = serve()
    first = lock_cli(world_mirror, "tool", "hello")
    assert first.code == 0, first.stderr
    data = first.stdout.encode()
    lock = json.loads(data)
    assert data == json.dumps(lock, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    assert set(lock) == {
        "format",
        "repoversion",
        "state",
        "architecture",
        "request",
        "recommends",
        "sources",
        "packages",
    }
    assert (lock["format"], lock["repoversion"], lock["architecture"]) == (1, "1.0.0", "amd64")
    assert lock["state"] == world_mirror.show("1.0.0")["state"]
    assert (lock["request"], lock["recommends"]) == (["tool", "hello"], False)
    public = "http://127.0.0.1:8080"  # the default public_url
    assert lock["sources"] == [
        {"archive": "debian", "suite": s, "components": ["main"], "uri": f"{public}/v/1.0.0/debian"}
        for s in ("bookworm", "bookworm-backports")
    ]
    keys = [(p["name"], p["architecture"], p["version"]) for p in lock["packages"]]
    assert keys == sorted(keys)
    assert [k[0] for k in keys] == ["hello", "libc6", "mta-one", "perl", "tool"]
    listed = json.loads(world_mirror.cli("packages", "1.0.0", "--json").stdout)
    rows = {(r["name"], r["version"], r["architecture"], r["suite"]): r for r in listed}
    for p in lock["packages"]:
        row = rows[(p["name"], p["version"], p["architecture"], p["suite"])]
        for field in ("archive", "component", "filename", "sha256", "size"):
            assert p[field] == row[field], (p["name"], field)
        assert p["url"] == f"{public}/v/1.0.0/debian/{p['filename']}"
        assert p["ostree"] == f"dpkg/data/{p['sha256']}"
        body = srv.get(f"/v/1.0.0/debian/{p['filename']}").content
        assert hashlib.sha256(body).hexdigest() == p["sha256"] and len(body) == p["size"]
    by_name = {p["name"]: p for p in lock["packages"]}
    assert by_name["tool"]["depends"] == ["mta-one", "perl"]
    assert (
        by_name["hello"]["version"] == "2.0-1" and by_name["hello"]["suite"] == "bookworm-backports"
    )

    out = tmp_path / "a.lock.json"
    assert lock_cli(world_mirror, "-o", str(out), "tool", "hello").stdout == ""
    assert out.read_bytes() == data  # from the results cache, the same bytes
    assert _fresh_process(world_mirror, "tool", "hello") == data  # recomputed: the same


def test_results_are_kept_per_version_and_request(world_mirror: Mirror) -> None:
    from repoversion.resolve.service import RESULTS

    data = lock_cli(world_mirror, "hello").stdout
    (tree,) = (world_mirror.home / "cache" / "apt").iterdir()
    assert sorted(p.name for p in tree.iterdir()) == ["amd64", "results", "used"]
    shutil.rmtree(tree / "amd64")
    RESULTS._items.clear()
    assert lock_cli(world_mirror, "hello").stdout == data  # from disk: no tree needed
    assert not (tree / "amd64").exists()
    other = lock_cli(world_mirror, "hello", "--recommends")
    assert other.code == 0 and (tree / "amd64").is_dir()  # a new request: apt again
    assert "hello-doc" not in data and "hello-doc" not in other.stdout  # 2.0-1 recommends none
    recommended = json.loads(lock_cli(world_mirror, "hello/bookworm", "--recommends").stdout)
    assert "hello-doc" in [p["name"] for p in recommended["packages"]]
    assert recommended["recommends"] is True
    assert "hello-doc" in {p["name"]: p for p in recommended["packages"]}["hello"]["depends"]


def test_update_rewrites_only_when_packages_moved(
    mirror: Mirror, fixture_archive: Any, tmp_path: Path
) -> None:
    arc: FixtureArchive = fixture_archive(
        [Pkg("hello", "1.0", depends="libfoo1"), Pkg("libfoo1", "2.0"), Pkg("libbaz", "1.0")]
    )
    mirror.add(arc)
    mirror.sync()
    path = tmp_path / "repoversion.lock.json"
    assert lock_cli(mirror, "-o", str(path), "hello").code == 0
    before = path.read_bytes()

    arc.add(Pkg("other", "1.0"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.1.0"
    same = mirror.cli("lockfile", "update", str(path))
    assert (same.code, same.stderr) == (0, "")
    assert same.stdout == f"No package moved from 1.0.0 to 1.1.0: {path} is unchanged.\n"
    assert path.read_bytes() == before

    arc.add(Pkg("hello", "1.1", depends="libfoo1, libnew"))
    arc.add(Pkg("libnew", "1.0"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.2.0"
    moved = mirror.cli("lockfile", "update", str(path))
    assert moved.code == 3, moved.stderr
    assert moved.stdout.splitlines() == [
        "+ libnew 1.0 (amd64)",
        "^ hello 1.0 -> 1.1 (amd64)",
        f"{path}: 1.0.0 -> 1.2.0: 1 added, 0 removed, 1 upgraded, 0 downgraded.",
    ]
    after = json.loads(path.read_bytes())
    assert after["repoversion"] == "1.2.0" and after["request"] == ["hello"]
    assert path.read_bytes() == lock_cli(mirror, "hello", version="1.2.0").stdout.encode()

    back = mirror.cli("lockfile", "update", str(path), "--version", "1.0.0", "--json")
    assert back.code == 3
    assert json.loads(back.stdout) == {
        "from": "1.2.0",
        "to": "1.0.0",
        "moved": True,
        "counts": {"added": 0, "removed": 1, "upgraded": 0, "downgraded": 1},
        "added": [],
        "removed": [{"name": "libnew", "architecture": "amd64", "version": "1.0"}],
        "upgraded": [],
        "downgraded": [{"name": "hello", "architecture": "amd64", "from": "1.1", "to": "1.0"}],
    }
    assert path.read_bytes() == before
    assert mirror.cli("lockfile", "update", str(path), "--version", "1.0.0").code == 0


def test_a_verbatim_archive_is_read_with_upstreams_release(
    mirror: Mirror, fixture_archive: Any
) -> None:
    """apt matches ``PKG/SUITE`` against the Release's Suite or Codename: upstream's own
    InRelease in ``verbatim`` mode."""
    arc: FixtureArchive = fixture_archive(
        suites={
            "bookworm": [Pkg("hello", "1.0"), Pkg("libfoo1", "2.0")],
            "bookworm-updates": [Pkg("hello", "1.1", depends="libfoo1")],
        },
        publish=False,
    )
    arc.options("bookworm").suite = "stable"
    arc.publish()
    mirror.add(arc, "--mode", "verbatim")
    mirror.sync()
    for request, version in (("hello", "1.1"), ("hello/stable", "1.0"), ("hello/bookworm", "1.0")):
        result = lock_cli(mirror, request)
        assert result.code == 0, result.stderr
        got = {p["name"]: p for p in json.loads(result.stdout)["packages"]}
        assert got["hello"]["version"] == version, request
    updates = json.loads(lock_cli(mirror, "hello").stdout)
    assert [(p["name"], p["suite"]) for p in updates["packages"]] == [
        ("hello", "bookworm-updates"),
        ("libfoo1", "bookworm"),
    ]


def test_verify_names_each_entry_not_served_as_locked(
    world_mirror: Mirror, locked: Any, tmp_path: Path
) -> None:
    lock = locked("tool")
    path = write(tmp_path / "good.json", lock)
    mirror = world_mirror
    good = mirror.cli("lockfile", "verify", str(path))
    assert good.code == 0, good.stderr
    assert (
        good.stdout
        == f"{path}: all 4 packages are served by repoversion 1.0.0 with their sha256.\n"
    )

    entries = {p["name"]: p for p in lock["packages"]}
    served = entries["perl"]["sha256"]
    entries["perl"]["sha256"] = "0" * 64
    entries["tool"]["filename"] = "pool/main/t/tool/tool_9.9_amd64.deb"
    bad = mirror.cli("lockfile", "verify", str(write(tmp_path / "bad.json", lock)))
    assert bad.code == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        f"error: perl 5.36.0-7 (debian/{entries['perl']['filename']}) has sha256 "
        f"{served} ({entries['perl']['size']} bytes) here, "
        f"not {'0' * 64} ({entries['perl']['size']} bytes).",
        "error: tool 1.0 (debian/pool/main/t/tool/tool_9.9_amd64.deb) is not in repoversion 1.0.0.",
        f"error: 2 of 4 entries of {tmp_path / 'bad.json'} are not served as locked.",
    ]
    other = {**locked("tool"), "state": "sha256:" + "1" * 64}
    moved = mirror.cli("lockfile", "verify", str(write(tmp_path / "other.json", other)))
    assert moved.code == 1 and "here has state sha256:" in moved.stderr


def test_sources_and_apt_args(world_mirror: Mirror, locked: Any, tmp_path: Path) -> None:
    mirror = world_mirror
    path = write(tmp_path / "l.json", locked("hello=0.9-1"))
    sources = mirror.cli("lockfile", "sources", str(path))
    assert sources.code == 0, sources.stderr
    base = "http://127.0.0.1:8080"
    assert sources.stdout.splitlines() == [
        "sudo install -d /etc/apt/keyrings && sudo curl -fsSL "
        f"{base}/keys/repoversion.gpg -o /etc/apt/keyrings/repoversion.gpg",
        f"deb [signed-by=/etc/apt/keyrings/repoversion.gpg] {base}/v/1.0.0/debian bookworm main",
        "deb [signed-by=/etc/apt/keyrings/repoversion.gpg] "
        f"{base}/v/1.0.0/debian bookworm-backports main",
    ]
    args = mirror.cli("lockfile", "apt-args", str(path))
    assert (args.code, args.stdout) == (0, "hello=0.9-1\nlibc6=2.36-9\n")


def test_materialize_downloads_a_lockfiles_packages(
    world_mirror: Mirror, locked: Any, tmp_path: Path
) -> None:
    mirror = world_mirror
    lock = locked("tool")
    path = write(tmp_path / "l.json", lock)
    out = mirror.cli("materialize", "1.0.0", "--lockfile", str(path), "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["downloaded"] == 4
    for p in lock["packages"]:
        sha = p["sha256"]
        assert (mirror.home / "blobs" / "sha256" / sha[:2] / sha[2:]).is_file()


def test_bad_lockfiles_and_requests_are_one_sentence(
    world_mirror: Mirror, locked: Any, tmp_path: Path
) -> None:
    mirror = world_mirror
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    partial = write(tmp_path / "partial.json", {**locked("hello"), "packages": [{"name": "x"}]})
    cases = {
        ("lockfile", "verify", str(junk)): f"{junk} is not a JSON lockfile.",
        (
            "lockfile",
            "apt-args",
            str(partial),
        ): f"{partial}: package entry 1 lacks a valid 'version'.",
        ("lockfile", "update", str(tmp_path / "none.json")): "Cannot read",
        ("lock", "--version", "1.0.0", "--arch", "arm64", "hello"): "Repoversion 1.0.0 serves no "
        "Packages for arm64.",
        ("lock", "--version", "2.0.0", "--arch", "amd64", "hello"): "No repoversion 2.0.0.",
        (
            "lock",
            "--version",
            "1.0.0",
            "--arch",
            "AMD",
            "hello",
        ): "'AMD' is not a Debian architecture.",
        ("lock", "--version", "1.0.0", "--arch", "amd64", "hello/../x"): "is not a package request",
    }
    for args, message in cases.items():
        result = mirror.cli(*args)
        lines = result.stderr.splitlines()
        assert result.code == 1 and len(lines) == 1 and message in lines[0], (args, lines)


def _fresh_process(mirror: Mirror, *packages: str) -> bytes:
    """``repoversion lock`` in another process, with no cached result."""
    shutil.rmtree(mirror.home / "cache")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    env.update(mirror.env)
    args = ["--home", str(mirror.home), "lock", "--version", "1.0.0", "--arch", "amd64"]
    proc = subprocess.run(
        [sys.executable, "-c", "from repoversion.cli import main; main()", *args, *packages],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
