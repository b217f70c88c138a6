"""The stock apt of Debian 12 against repoversion's views, in both modes, with ``-o Dir=``."""

from __future__ import annotations

from tests.fixtures.archives import Pkg


def _line(key: str, url: str, suite: str = "bookworm") -> str:
    return f"deb [signed-by={key}] {url} {suite} main"


def test_apt_installs_from_a_signed_version(
    mirror, fixture_archive, serve, server_key, apt_client
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0", depends="libfoo1"), Pkg("libfoo1", "2.0")])
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    srv = serve()
    apt_client.set_sources([_line(server_key, f"{srv.url}/v/1.0.0/debian")])
    apt_client.update()
    assert any(name.endswith("_InRelease") for name in apt_client.list_files())
    debs = apt_client.install_download_only(["hello"])
    assert [d.name for d in debs] == ["hello_1.0_amd64.deb", "libfoo1_2.0_amd64.deb"]
    for deb, pkg in zip(debs, arc.packages(), strict=True):
        assert deb.read_bytes() == arc.deb_path(pkg).read_bytes()


def test_signed_mode_refuses_the_upstream_key(mirror, fixture_archive, serve, apt_client) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    srv = serve()
    apt_client.set_sources([_line(str(arc.keyring_path), f"{srv.url}/v/1.0.0/debian")])
    result = apt_client.update(check=False)
    assert not result.ok
    assert "NO_PUBKEY" in result.stdout + result.stderr or result.errors


def test_apt_installs_from_a_verbatim_version_with_upstream_key(
    mirror, fixture_archive, serve, apt_client
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0", depends="libfoo1"), Pkg("libfoo1", "2.0")])
    mirror.add(arc, "--mode", "verbatim")
    mirror.sync()
    srv = serve()
    assert srv.get("/v/1.0.0/debian/dists/bookworm/InRelease").content == arc.read(
        "dists/bookworm/InRelease"
    )
    apt_client.set_sources([_line(str(arc.keyring_path), f"{srv.url}/v/1.0.0/debian")])
    apt_client.update()
    debs = apt_client.install_download_only(["hello"])
    assert [d.name for d in debs] == ["hello_1.0_amd64.deb", "libfoo1_2.0_amd64.deb"]
    assert debs[0].read_bytes() == arc.deb_path(arc.packages()[0]).read_bytes()


def test_pinned_old_version_keeps_serving_its_old_bytes(
    mirror, fixture_archive, serve, server_key, make_apt_client
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    old_deb = arc.deb_path(arc.packages()[0]).read_bytes()
    old_index = arc.read("dists/bookworm/main/binary-amd64/Packages.gz")
    srv = serve()
    inrelease = srv.get("/v/1.0.0/debian/dists/bookworm/InRelease").content
    assert mirror.cli("materialize", "1.0.0").code == 0

    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.1.0"
    arc.delete(Pkg("hello", "1.0").filename)  # upstream loses the old file: storage has it

    assert srv.get("/v/1.0.0/debian/dists/bookworm/InRelease").content == inrelease
    packages = srv.get("/v/1.0.0/debian/dists/bookworm/main/binary-amd64/Packages.gz")
    assert packages.content == old_index
    old = make_apt_client()
    old.set_sources([_line(server_key, f"{srv.url}/v/1.0.0/debian")])
    old.update()
    (deb,) = old.install_download_only(["hello"])
    assert (deb.name, deb.read_bytes()) == ("hello_1.0_amd64.deb", old_deb)
    new = make_apt_client()
    new.set_sources([_line(server_key, f"{srv.url}/v/1.1.0/debian")])
    new.update()
    assert new.simulate(["hello"]) == [("hello", "1.1", "amd64")]


def test_apt_follows_a_tag_moved_back(
    mirror, fixture_archive, serve, server_key, apt_client
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    mirror.sync()

    def tag(ref: str, when: str) -> None:
        result = mirror.run_cli(
            "--home", str(mirror.home), "tag", "stable", ref, env={"REPOVERSION_NOW": when}
        )
        assert result.code == 0, result.stderr

    srv = serve()
    apt_client.set_sources([_line(server_key, f"{srv.url}/v/stable/debian")])
    tag("1.1.0", "2025-06-02T00:00:00Z")
    apt_client.update()
    assert apt_client.simulate(["hello"]) == [("hello", "1.1", "amd64")]
    tag("1.0.0", "2025-06-03T00:00:00Z")
    apt_client.update()
    assert apt_client.simulate(["hello"]) == [("hello", "1.0", "amd64")]
    release = srv.get("/v/stable/debian/dists/bookworm/Release")
    assert "Date: Tue, 03 Jun 2025 00:00:00 UTC\n" in release.text
    assert release.headers["Cache-Control"] == "no-cache"
