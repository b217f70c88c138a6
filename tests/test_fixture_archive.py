"""The archive fixtures are real: the machine's apt-get and gpgv accept (and reject) them."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from debian.deb822 import Packages, Release

from tests.fixtures.apt import AptClient, AptError
from tests.fixtures.archives import (
    ArchiveServer,
    DebCache,
    FixtureArchive,
    Pkg,
    SrcPkg,
    format_date,
)
from tests.fixtures.gpg import GpgKey, KeySet

ArchiveFactory = Callable[..., FixtureArchive]

CHAIN = [
    Pkg("app", "2.0-1", depends="libwidget2 (>= 2.0), python3 | python3-minimal"),
    Pkg("libwidget2", "2.1-3", source="widget", pre_depends="libc6 (>= 2.36)"),
    Pkg("libc6", "2.36-9+deb12u4", multi_arch="same"),
    Pkg("python3-minimal", "3.11.2-1", provides="python3"),
    Pkg("widget-data", "2.1-3", architecture="all", source="widget"),
]


def _packages(archive: FixtureArchive, suite: str = "bookworm") -> dict[str, Packages]:
    text = archive.read(f"dists/{suite}/main/binary-amd64/Packages").decode()
    return {p["Package"]: p for p in Packages.iter_paragraphs(text, use_apt_pkg=False)}


def _gpgv(keyring: Path, *files: Path) -> tuple[int, str]:
    proc = subprocess.run(
        ["gpgv", "--status-fd", "1", "--keyring", str(keyring), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout


def test_apt_update_accepts_the_archive(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert any(f.endswith("_dists_bookworm_InRelease") for f in apt_client.list_files())
    assert any(f.endswith("_main_binary-amd64_Packages") for f in apt_client.list_files())
    policy = apt_client.cache("policy", "libc6").stdout
    assert "Candidate: 2.36-9+deb12u4" in policy
    # Acquire-By-Hash: yes makes apt fetch the index by its SHA256
    assert any("/binary-amd64/by-hash/SHA256/" in p for p in archive.requests)


def test_download_only_fetches_debs_matching_packages(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    debs = apt_client.install_download_only(["app"])
    index = _packages(archive)
    assert sorted(d.name.split("_")[0] for d in debs) == [
        "app", "libc6", "libwidget2", "python3-minimal",
    ]  # fmt: skip
    for deb in debs:
        stanza = index[deb.name.split("_")[0]]
        data = deb.read_bytes()
        assert hashlib.sha256(data).hexdigest() == stanza["SHA256"]
        assert len(data) == int(stanza["Size"])
        assert archive.read(stanza["Filename"]) == data


def test_simulate_resolves_a_dependency_chain(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    plan = apt_client.simulate(["app", "widget-data"])
    assert sorted(plan) == [
        ("app", "2.0-1", "amd64"),
        ("libc6", "2.36-9+deb12u4", "amd64"),
        ("libwidget2", "2.1-3", "amd64"),
        ("python3-minimal", "3.11.2-1", "amd64"),
        ("widget-data", "2.1-3", "all"),
    ]
    # Pre-Depends: libc6 is unpacked before libwidget2
    names = [p[0] for p in plan]
    assert names.index("libc6") < names.index("libwidget2")


def test_apt_rejects_a_keyring_without_the_signing_key(
    fixture_archive: ArchiveFactory,
    apt_client: AptClient,
    make_gpg_key: Callable[..., GpgKey],
    tmp_path: Path,
) -> None:
    archive = fixture_archive(CHAIN)
    other = make_gpg_key("other").write_keyring(tmp_path / "other.gpg")
    apt_client.set_sources([archive.sources_line(keyring=other)])
    result = apt_client.update(check=False)
    assert not result.ok
    assert "NO_PUBKEY" in result.stdout + result.stderr
    assert any("is not signed" in e for e in result.errors)
    with pytest.raises(AptError):
        apt_client.simulate(["app"])


def test_apt_rejects_a_republish_signed_by_another_key(
    fixture_archive: ArchiveFactory,
    apt_client: AptClient,
    make_gpg_key: Callable[..., GpgKey],
) -> None:
    archive = fixture_archive(CHAIN)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    archive.signing_key = make_gpg_key("rogue")
    archive.add(Pkg("app", "2.1-1"))
    archive.publish()
    result = apt_client.update(check=False)
    assert not result.ok
    assert "NO_PUBKEY" in result.stdout + result.stderr


def test_gpgv_verifies_inrelease_and_release_gpg(
    fixture_archive: ArchiveFactory, gpg_key: GpgKey, make_gpg_key: Callable[..., GpgKey]
) -> None:
    archive = fixture_archive(CHAIN, serve=False)
    assert archive.keyring_path is not None
    dists = archive.path("dists/bookworm")
    for files in ([dists / "InRelease"], [dists / "Release.gpg", dists / "Release"]):
        code, status = _gpgv(archive.keyring_path, *files)
        assert code == 0, status
        assert f"VALIDSIG {gpg_key.fingerprint}" in status
    other = make_gpg_key("other").write_keyring(archive.root.parent / "other.gpg")
    code, status = _gpgv(other, dists / "InRelease")
    assert code != 0 and "VALIDSIG" not in status
    # the signed text is the Release file
    assert archive.read("dists/bookworm/Release") in archive.read("dists/bookworm/InRelease")


def test_keyset_signs_with_every_key_and_gpgv_exit_code_is_not_enough(
    fixture_archive: ArchiveFactory, gpg_key: GpgKey, make_gpg_key: Callable[..., GpgKey]
) -> None:
    second = make_gpg_key("second")
    keys = KeySet([gpg_key, second], parent=Path(str(gpg_key.home)).parent)
    try:
        archive = fixture_archive(CHAIN, signing_key=keys, serve=False)
        # keyring_path exports both keys
        code, status = _gpgv(archive.keyring_path, archive.path("dists/bookworm/InRelease"))  # type: ignore[arg-type]
        assert code == 0 and status.count("VALIDSIG") == 2
        # FIELD-NOTES: one good + one unknown signature exits 2 but has a VALIDSIG
        only_first = gpg_key.write_keyring(archive.root.parent / "first.gpg")
        code, status = _gpgv(only_first, archive.path("dists/bookworm/InRelease"))
        assert code == 2
        assert f"VALIDSIG {gpg_key.fingerprint}" in status and "NO_PUBKEY" in status
    finally:
        keys.close()


def test_release_lists_every_index_and_by_hash_copies_match(
    fixture_archive: ArchiveFactory,
) -> None:
    archive = fixture_archive(CHAIN, translations=True, serve=False)
    release = Release(archive.read("dists/bookworm/Release"))
    assert release["Acquire-By-Hash"] == "yes"
    assert release["Date"] == format_date(datetime(2024, 1, 1, tzinfo=UTC))
    text = archive.read("dists/bookworm/Release").decode()
    # FIELD-NOTES: SHA256 first, MD5Sum last (debootstrap drops InRelease's last line)
    assert text.index("\nSHA256:") < text.index("\nMD5Sum:")
    names = {e["name"] for e in release["SHA256"]}
    for base in ("main/binary-amd64/Packages", "main/i18n/Translation-en"):
        assert {base, base + ".gz", base + ".xz"} <= names
    assert {e["name"] for e in release["MD5Sum"]} == names
    for entry in release["SHA256"]:
        data = archive.read(f"dists/bookworm/{entry['name']}")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == int(entry["size"])
        by_hash = f"{Path(entry['name']).parent}/by-hash/SHA256/{entry['sha256']}"
        assert archive.read(f"dists/bookworm/{by_hash}") == data


def test_republish_with_a_removed_package_is_seen_by_apt(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert ("python3-minimal", "3.11.2-1", "amd64") in apt_client.simulate(["python3-minimal"])
    archive.remove("python3-minimal")
    archive.add(Pkg("libc6", "2.36-9+deb12u7", multi_arch="same"))
    archive.publish()
    apt_client.update()
    with pytest.raises(AptError, match="python3-minimal"):
        apt_client.simulate(["python3-minimal"])
    assert apt_client.simulate(["libc6"]) == [("libc6", "2.36-9+deb12u7", "amd64")]
    # upstream keeps the old pool file until it is pruned
    assert archive.path("pool/main/p/python3-minimal/python3-minimal_3.11.2-1_amd64.deb").exists()
    assert archive.prune_pool() == [
        "pool/main/libc/libc6/libc6_2.36-9+deb12u4_amd64.deb",
        "pool/main/p/python3-minimal/python3-minimal_3.11.2-1_amd64.deb",
    ]


def test_resign_changes_only_the_release_date(fixture_archive: ArchiveFactory) -> None:
    archive = fixture_archive(CHAIN, serve=False)
    packages = archive.read("dists/bookworm/main/binary-amd64/Packages.xz")
    before = Release(archive.read("dists/bookworm/Release"))
    archive.resign(date=datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    after = Release(archive.read("dists/bookworm/Release"))
    assert after["Date"] == "Sat, 01 Jun 2024 12:00:00 UTC"
    assert after["SHA256"] == before["SHA256"]
    assert archive.read("dists/bookworm/main/binary-amd64/Packages.xz") == packages
    # the default clock moves on from the latest date used
    archive.resign()
    assert Release(archive.read("dists/bookworm/Release"))["Date"].endswith("13:00:00 UTC")


def test_output_is_deterministic(tmp_path: Path, gpg_key: GpgKey, deb_cache: DebCache) -> None:
    def build(name: str) -> FixtureArchive:
        archive = FixtureArchive(tmp_path / name, gpg_key, suites={"bookworm": CHAIN})
        archive.deb_cache = deb_cache
        archive.publish()
        return archive

    built = deb_cache.built
    one, two = build("one"), build("two")
    assert one.read("dists/bookworm/Release") == two.read("dists/bookworm/Release")
    assert deb_cache.built - built <= len(CHAIN)  # the second archive reused every .deb
    # .debs are reproducible too (same bytes from a cold cache)
    cold = DebCache(tmp_path / "cold")
    assert cold.get(CHAIN[0]).read_bytes() == deb_cache.get(CHAIN[0]).read_bytes()


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        ("inrelease", ["InRelease"], ["Release", "Release.gpg"]),
        ("detached", ["Release", "Release.gpg"], ["InRelease"]),
    ],
)
def test_signature_modes(
    fixture_archive: ArchiveFactory,
    apt_client: AptClient,
    mode: str,
    present: list[str],
    absent: list[str],
) -> None:
    archive = fixture_archive(CHAIN, signatures=mode)
    for name in present:
        assert archive.path(f"dists/bookworm/{name}").exists()
    for name in absent:
        assert not archive.path(f"dists/bookworm/{name}").exists()
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert apt_client.simulate(["libc6"])


def test_unsigned_release_is_rejected(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN, signatures="none")
    apt_client.set_sources([archive.sources_line()])
    result = apt_client.update(check=False)
    assert any("is not signed" in e for e in result.errors)


def test_expired_and_future_releases_are_rejected(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    """Also proves the client ignores this host's apt.conf.d (Check-Valid-Until "false")."""
    archive = fixture_archive(CHAIN, publish=False)
    archive.publish(valid_until=datetime(2024, 1, 8, tzinfo=UTC))
    apt_client.set_sources([archive.sources_line()])
    assert any("expired" in e for e in apt_client.update(check=False).errors)
    archive.publish(date=datetime.now(UTC) + timedelta(days=1))
    assert any("not valid yet" in e for e in apt_client.update(check=False).errors)


def test_tampered_index_fails_hash_check(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN, by_hash=False)
    rel = "dists/bookworm/main/binary-amd64/Packages"
    tampered = archive.read(rel).replace(b"2.36-9+deb12u4", b"2.36-9+deb12u9")
    for ext, compress in (("", bytes), (".gz", _gzip), (".xz", _xz)):
        archive.write(rel + ext, compress(tampered))
    apt_client.set_sources([archive.sources_line()])
    result = apt_client.update(check=False)
    assert not result.ok
    assert "Hash Sum mismatch" in result.stdout + result.stderr


def test_lying_packages_stanza_fails_the_download(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    liar = Pkg("liar", "1.0", index_overrides={"SHA256": "0" * 64})
    archive = fixture_archive([*CHAIN, liar])
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    with pytest.raises(AptError, match="Hash Sum mismatch"):
        apt_client.install_download_only(["liar"])


def test_only_compressed_indices(fixture_archive: ArchiveFactory, apt_client: AptClient) -> None:
    archive = fixture_archive(CHAIN, compressions=(".xz",), by_hash=False)
    assert not archive.path("dists/bookworm/main/binary-amd64/Packages").exists()
    assert "main/binary-amd64/Packages\n" in archive.read("dists/bookworm/Release").decode()
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert "/debian/dists/bookworm/main/binary-amd64/Packages.xz" in archive.server.requests  # type: ignore[union-attr]
    assert apt_client.simulate(["libc6"])


def test_apt_silently_ignores_an_index_listed_only_compressed(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    """FIELD-NOTES quirk, kept visible: exit 0, no warning, and no packages."""
    archive = fixture_archive(CHAIN, compressions=(".xz",), list_uncompressed=False)
    apt_client.set_sources([archive.sources_line()])
    assert apt_client.update().ok
    assert not any("Packages" in f for f in apt_client.list_files())
    with pytest.raises(AptError, match="Unable to locate package libc6"):
        apt_client.simulate(["libc6"])


def test_by_hash_404_falls_back_to_the_plain_path(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    assert archive.server is not None
    rule = archive.server.fail("*/by-hash/*", 404)
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert rule.hits >= 1
    assert any(p.endswith("binary-amd64/Packages.xz") for p in archive.requests)
    assert apt_client.simulate(["libc6"])


@pytest.mark.parametrize("action", [500, "drop", "truncate"])
def test_server_failures_make_apt_update_fail(
    fixture_archive: ArchiveFactory, apt_client: AptClient, action: int | str
) -> None:
    archive = fixture_archive(CHAIN)
    assert archive.server is not None
    archive.server.fail("*/binary-amd64/*", action)  # type: ignore[arg-type]
    apt_client.set_sources([archive.sources_line()])
    result = apt_client.update(check=False)
    assert not result.ok, result.describe()


def test_basic_auth_with_apt_auth_conf(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    assert archive.server is not None
    archive.server.require_auth("user", "s3cret", match="/debian/*")
    apt_client.set_sources([archive.sources_line()])
    assert not apt_client.update_ok()
    apt_client.set_auth(archive.url, "user", "s3cret")
    apt_client.update()
    assert apt_client.install_download_only(["libc6"])


def test_sources_and_translations(
    fixture_archive: ArchiveFactory, make_apt_client: Callable[..., AptClient], tmp_path: Path
) -> None:
    archive = fixture_archive(
        [*CHAIN, SrcPkg("widget", "2.1-3", binaries=["libwidget2", "widget-data"])],
        translations=True,
    )
    apt = make_apt_client(languages=["en"])
    apt.set_sources([archive.sources_line(), archive.sources_line(kind="deb-src")])
    apt.update()
    assert any(f.endswith("_main_i18n_Translation-en") for f in apt.list_files())
    assert any(f.endswith("_main_source_Sources") for f in apt.list_files())
    files = apt.source_download_only(["widget"], tmp_path / "src")
    assert [f.name for f in files] == [
        "widget_2.1-3.debian.tar.xz", "widget_2.1-3.dsc", "widget_2.1.orig.tar.xz",
    ]  # fmt: skip
    unpack = subprocess.run(
        ["dpkg-source", "-x", "--no-check", "widget_2.1-3.dsc", "tree"],
        cwd=tmp_path / "src",
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpack.returncode == 0, unpack.stderr
    assert (tmp_path / "src/tree/debian/changelog").exists()
    show = apt.cache("show", "libc6").stdout
    assert "Generated by the repoversion test fixtures." in show


def test_http_server_keep_alive_head_and_range(fixture_archive: ArchiveFactory) -> None:
    archive = fixture_archive(CHAIN)
    assert archive.server is not None
    rel = "dists/bookworm/Release"
    body = archive.read(rel)
    conn = http.client.HTTPConnection("127.0.0.1", archive.server.port, timeout=5)
    try:
        conn.request("HEAD", f"/debian/{rel}")
        resp = conn.getresponse()
        assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(body)
        resp.read()
        conn.request("GET", f"/debian/{rel}", headers={"Range": "bytes=10-19"})
        resp = conn.getresponse()
        assert resp.status == 206 and resp.read() == body[10:20]
        for bad in ("/debian/../etc/passwd", "/debian/%2e%2e/x", "/debian/dists", "/nope/x"):
            conn.request("GET", bad)
            resp = conn.getresponse()
            assert resp.status == 404, bad
            resp.read()
    finally:
        conn.close()
    assert archive.requests[:2] == [rel, rel]


def test_two_archives_on_one_server(fixture_archive: ArchiveFactory, apt_client: AptClient) -> None:
    debian = fixture_archive(CHAIN)
    security = fixture_archive(
        [Pkg("libc6", "2.36-9+deb12u9", multi_arch="same")], suite="bookworm-security"
    )
    assert security.url.endswith("/debian2") and security.server is debian.server
    apt_client.set_sources([debian.sources_line(), security.sources_line()])
    apt_client.update()
    assert apt_client.simulate(["libc6"]) == [("libc6", "2.36-9+deb12u9", "amd64")]


def test_plain_classes_work_without_fixtures(tmp_path: Path, gpg_key: GpgKey) -> None:
    archive = FixtureArchive(tmp_path / "debian", gpg_key)
    archive.add(Pkg("hello", "1.0-1"), suite="bookworm")
    archive.publish()
    with ArchiveServer() as server:
        url = archive.serve(server)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/debian/dists/bookworm/InRelease")
        assert conn.getresponse().read() == archive.read("dists/bookworm/InRelease")
        conn.close()
    assert url == archive.url


def test_sha512_by_hash_extra_files_and_release_transform(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    def relabel(suite: str, text: str) -> str:
        return text.replace("Label: Test", "Label: Evil")

    archive = fixture_archive(CHAIN, hash_sections=("SHA512", "SHA256", "MD5Sum"), publish=False)
    archive.extra_files["bookworm"] = {"main/Contents-amd64.gz": b"not really gzip"}
    archive.publish(release_transform=relabel)
    release = Release(archive.read("dists/bookworm/Release"))
    assert release["Label"] == "Evil" and b"Label: Evil" in archive.read("dists/bookworm/InRelease")
    assert "main/Contents-amd64.gz" in {e["name"] for e in release["SHA512"]}
    assert not any("Contents-amd64.gz." in e["name"] for e in release["SHA512"])
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    # apt picks the strongest hash for by-hash
    assert any("/binary-amd64/by-hash/SHA512/" in p for p in archive.requests)


def test_redirects_and_one_shot_rules(
    fixture_archive: ArchiveFactory, apt_client: AptClient
) -> None:
    archive = fixture_archive(CHAIN)
    server = archive.server
    assert server is not None
    server.mount("mirror", archive.root)
    server.add_rule(
        "/debian/pool/*",
        action="redirect",
        location=lambda path: server.base_url + path.replace("/debian/", "/mirror/", 1),
    )
    apt_client.set_sources([archive.sources_line()])
    apt_client.update()
    assert [d.name for d in apt_client.install_download_only(["libc6"])] == [
        "libc6_2.36-9+deb12u4_amd64.deb"
    ]
    assert "/mirror/pool/main/libc/libc6/libc6_2.36-9+deb12u4_amd64.deb" in server.requests
    once = server.fail("*/InRelease", 500, times=1)
    assert not apt_client.update_ok()
    apt_client.update()
    assert once.hits == 1


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def _xz(data: bytes) -> bytes:
    import lzma

    return lzma.compress(data)
