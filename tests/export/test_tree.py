"""``repoversion export``: the tree is what ``/v/REF/`` serves, and apt installs from it,
as a ``file:`` source and behind a plain web server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.export.conftest import Synced, check_sh, file_sources
from tests.fixtures.archives import ArchiveServer, Pkg


def _tree(root: Path) -> list[str]:
    """Every file of the export outside provenance/, relative to it."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] != "provenance"
    )


def test_the_tree_holds_the_bytes_the_server_serves(synced: Synced, serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "export"
    out = synced.export("1.0.0", root)
    files = _tree(root)
    assert out["files"] == len(files) and out["archives"] == ["debian", "extra"]
    assert out["pool_files"] == 7 and out["downloaded"] == 7 and out["warnings"] == []
    srv = serve()
    for rel in files:
        got = srv.get(f"/v/1.0.0/{rel}")
        assert got.status_code == 200 and got.content == (root / rel).read_bytes(), rel
    # the signed Release files, the by-hash names apt asks for, every upstream pool file
    dists = root / "debian" / "dists" / "bookworm"
    assert {"InRelease", "Release", "Release.gpg"} <= {p.name for p in dists.iterdir()}
    assert any("/by-hash/SHA256/" in f for f in files)
    for arc in (synced.debian, synced.extra):
        for pkg in arc.packages():
            assert (root / arc.name / pkg.filename).read_bytes() == arc.deb_path(pkg).read_bytes()
    assert (root / "extra/dists/bookworm/InRelease").read_bytes() == synced.extra.read(
        "dists/bookworm/InRelease"
    )
    assert sorted(p.name for p in root.iterdir()) == ["debian", "extra", "provenance"]


def test_a_tag_exports_what_the_server_serves_under_it(synced: Synced, serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synced.debian.add(Pkg("hello", "1.1-1", depends="libfoo1"))
    synced.debian.publish()
    assert synced.mirror.sync()["repoversion"] == "1.1.0"
    assert synced.mirror.cli("tag", "stable", "1.0.0").code == 0
    srv = serve()
    # the server generates the tag's Release first; the export must hold those bytes
    served = srv.get("/v/stable/debian/dists/bookworm/InRelease").content
    root = tmp_path / "export"
    said = synced.mirror.cli("export", "stable", str(root))
    assert said.code == 0 and said.stderr == "", said.stderr
    assert said.stdout.startswith(f"Repoversion 1.0.0 exported to {root}: ")
    assert "provenance/check.sh" in said.stdout
    assert (root / "debian/dists/bookworm/InRelease").read_bytes() == served
    assert (root / "debian/pool/main/h/hello/hello_1.0-1_amd64.deb").is_file()
    assert not (root / "debian/pool/main/h/hello/hello_1.1-1_amd64.deb").exists()
    index = json.loads((root / "provenance/index.json").read_text())
    assert (index["repoversion"], index["ref"]) == ("1.0.0", "stable")
    assert index["index"]["repoversion"] == "1.0.0"


def test_apt_installs_from_a_file_source_and_from_a_web_server(
    synced: Synced, tmp_path, make_apt_client, archive_server: ArchiveServer
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "export"
    synced.export("1.0.0", root)
    local = make_apt_client()
    local.set_sources(file_sources(root))
    local.update()
    assert local.simulate(["hello", "tool"]) == [
        ("libfoo1", "2.0", "amd64"),
        ("hello", "1.0-1", "amd64"),
        ("tool", "1.5", "amd64"),
    ]
    assert local.run("install", "--download-only", "-y", "hello", "tool").ok, local.last

    url = archive_server.mount("export", root)
    archive_server.clear_log()
    web = make_apt_client()
    web.set_sources(file_sources(root, url))
    web.update()
    debs = web.install_download_only(["hello", "tool"])
    assert [d.name for d in debs] == [
        "hello_1.0-1_amd64.deb",
        "libfoo1_2.0_amd64.deb",
        "tool_1.5_amd64.deb",
    ]
    for deb in debs:
        assert deb.read_bytes() == next(root.rglob(deb.name)).read_bytes()
    assert any("/by-hash/SHA256/" in p for p in archive_server.requests)


def test_a_lockfile_export_holds_only_the_locked_packages(
    synced: Synced, tmp_path, make_apt_client, archive_server: ArchiveServer
) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "repoversion.lock.json"
    made = synced.mirror.cli(
        "lock", "--version", "1.0.0", "--arch", "amd64", "hello", "-o", str(lock)
    )
    assert made.code == 0, made.stderr
    root = tmp_path / "export"
    out = synced.export("1.0.0", root, "--lockfile", str(lock))
    assert out["lockfile"] is True and out["pool_files"] == 2
    pool = [f for f in _tree(root) if "/pool/" in f]
    assert pool == [
        "debian/pool/main/h/hello/hello_1.0-1_amd64.deb",
        "debian/pool/main/libf/libfoo1/libfoo1_2.0_amd64.deb",
    ]
    # the indices stay whole (upstream's bytes), only pool/ is cut down
    assert (root / "extra/dists/bookworm/main/binary-amd64/Packages.gz").is_file()
    assert json.loads((root / "provenance/index.json").read_text())["lockfile"] == {"pool_files": 2}
    assert "lockfile" in (root / "provenance/README.txt").read_text()
    assert check_sh(root).returncode == 0

    apt = make_apt_client()
    apt.set_sources(file_sources(root, archive_server.mount("export", root)))
    apt.update()
    debs = apt.install_download_only(["hello"])
    assert [d.name for d in debs] == ["hello_1.0-1_amd64.deb", "libfoo1_2.0_amd64.deb"]
    refused = apt.run("install", "--download-only", "-y", "other")
    assert refused.returncode != 0 and "other_3.0_amd64.deb" in refused.stderr + refused.stdout
