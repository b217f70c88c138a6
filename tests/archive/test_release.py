"""Release parsing, freshness checks and index planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from repoversion.archive import plan as plan_module
from repoversion.archive.plan import plan_indices
from repoversion.archive.release import (
    Release,
    check_freshness,
    format_date,
    parse_date,
    parse_release,
)
from repoversion.errors import BadUpstream

H1, H2, H3 = "1" * 64, "2" * 64, "3" * 64


def make_release(*, head: str = "", sha256: str | None = None, extra: str = "") -> bytes:
    """A small Release; ``sha256`` replaces the default SHA256 section body."""
    if sha256 is None:
        sha256 = (
            f" {H1}  1000 main/binary-amd64/Packages\n"
            f" {H2}   200 main/binary-amd64/Packages.xz\n"
            f" {H3}   300 main/binary-amd64/Packages.gz\n"
        )
    text = (
        "Origin: Test\nLabel: Test\nSuite: stable\nCodename: trixie\nVersion: 13.1\n"
        "Date: Sat, 10 Aug 2024 09:01:23 UTC\nAcquire-By-Hash: yes\n"
        "Architectures: all amd64 arm64\nComponents: main contrib\n"
        f"{head}"
        "MD5Sum:\n"
        " 0123456789abcdef0123456789abcdef  1000 main/binary-amd64/Packages\n"
        f"SHA256:\n{sha256}{extra}"
    )
    return text.encode()


def test_corpus_bookworm_release(corpus: Path) -> None:
    release = parse_release((corpus / "debian/dists/bookworm/Release").read_bytes())
    assert (release.origin, release.label, release.suite, release.codename) == (
        "Debian",
        "Debian",
        "oldstable",
        "bookworm",
    )
    assert release.version == "12.15"
    assert release.date == datetime(2026, 7, 11, 10, 16, 37, tzinfo=UTC)
    assert release.valid_until is None
    assert release.acquire_by_hash is True
    assert "amd64" in release.architectures and "main" in release.components
    entry = release.files["main/binary-amd64/Packages.xz"]
    assert entry.size == 8790396
    assert entry.sha256 == "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5"
    assert entry.md5 == "b838d31986207780a596ce3e8010f90f"
    assert entry.by_hash_path == f"main/binary-amd64/by-hash/SHA256/{entry.sha256}"
    assert release.files["main/binary-amd64/Packages"].size == 50060337
    assert release.fields["Description"] == "Debian 12.15 Released 11 July 2026"
    assert release.get("no-support-for-architecture-all") == "Packages"


def test_corpus_security_release_is_fresh_until_valid_until(corpus: Path) -> None:
    text = (corpus / "debian-security/dists/bookworm-security/InRelease").read_bytes()
    body = text.split(b"\n\n", 1)[1].split(b"\n-----BEGIN PGP SIGNATURE-----")[0] + b"\n"
    release = parse_release(body, "bookworm-security/InRelease")
    assert release.valid_until == datetime(2026, 12, 1, 0, 34, 33, tzinfo=UTC)
    check_freshness(release, datetime(2026, 11, 25, tzinfo=UTC))
    with pytest.raises(BadUpstream) as caught:
        check_freshness(release, datetime(2026, 12, 2, tzinfo=UTC), "bookworm-security/InRelease")
    assert str(caught.value).startswith(
        "bookworm-security/InRelease expired on Tue, 01 Dec 2026 00:34:33 UTC (Valid-Until)"
    )


def test_merges_checksum_sections() -> None:
    release = parse_release(
        make_release(extra=f"SHA512:\n {'f' * 128} 1000 main/binary-amd64/Packages\n")
    )
    entry = release.files["main/binary-amd64/Packages"]
    assert (entry.size, entry.sha256) == (1000, H1)
    assert entry.md5 == "0123456789abcdef0123456789abcdef"
    assert entry.sha512 == "f" * 128
    assert release.files["main/binary-amd64/Packages.xz"].md5 is None


def test_uppercase_hashes_are_normalised() -> None:
    release = parse_release(make_release(sha256=f" {'A' * 64} 5 main/i18n/Translation-en\n"))
    assert release.files["main/i18n/Translation-en"].sha256 == "a" * 64


def test_files_without_sha256_are_left_out() -> None:
    release = parse_release(make_release(sha256=f" {H2} 200 main/binary-amd64/Packages.xz\n"))
    assert "main/binary-amd64/Packages" not in release.files  # only in MD5Sum
    assert list(release.files) == ["main/binary-amd64/Packages.xz"]


def test_release_without_sha256_is_refused() -> None:
    text = make_release().split(b"SHA256:")[0]
    with pytest.raises(BadUpstream, match=r"^Release has no SHA256 section"):
        parse_release(text)


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "main/../../x",
        "main\\binary-amd64\\Packages",
        "main//Packages",
        "./main/Packages",
        "main/\x00Packages",
    ],
)
def test_escaping_paths_are_refused(path: str) -> None:
    with pytest.raises(BadUpstream, match=r"^Release lists an unsafe path"):
        parse_release(make_release(sha256=f" {H1} 10 {path}\n"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f" {H1[:-1]} 10 main/Packages", "invalid sha256 hash for main/Packages"),
        (f" {'g' * 64} 10 main/Packages", "invalid sha256 hash for main/Packages"),
        (f" {H1} ten main/Packages", "invalid size 'ten' for main/Packages"),
        (f" {H1} 10", "malformed sha256 line"),
        (f" {H1} 10 main/Packages extra", "malformed sha256 line"),
    ],
)
def test_malformed_entries_are_refused(line: str, message: str) -> None:
    with pytest.raises(BadUpstream, match=message):
        parse_release(make_release(sha256=line + "\n"))


def test_sections_disagreeing_on_size_are_refused() -> None:
    with pytest.raises(BadUpstream, match="lists main/binary-amd64/Packages with two different"):
        parse_release(make_release(sha256=f" {H1} 999 main/binary-amd64/Packages\n"))


def test_same_path_twice_with_different_hashes_is_refused() -> None:
    body = f" {H1} 10 main/Packages\n {H2} 10 main/Packages\n"
    with pytest.raises(BadUpstream, match="twice with different sha256 hashes"):
        parse_release(make_release(sha256=body))


def test_second_paragraph_is_refused() -> None:
    with pytest.raises(BadUpstream, match="more than one paragraph"):
        parse_release(make_release() + b"\nOrigin: Evil\n")


def test_repeated_field_is_refused() -> None:
    with pytest.raises(BadUpstream, match="has the field suite twice"):
        parse_release(make_release(head="suite: evil\n"))


def test_non_utf8_is_refused() -> None:
    with pytest.raises(BadUpstream, match=r"^Release is not UTF-8"):
        parse_release(make_release(head="Description: caf\xe9\n").decode().encode("latin-1"))


def test_missing_date_is_refused() -> None:
    text = make_release().replace(b"Date: Sat, 10 Aug 2024 09:01:23 UTC\n", b"")
    with pytest.raises(BadUpstream, match=r"^Release has no Date field"):
        parse_release(text)


@pytest.mark.parametrize(
    "value",
    [
        "Sat, 10 Aug 2024 09:01:23 UTC",
        "Sat, 10 Aug 2024 09:01:23 GMT",
        "Sat, 10 Aug 2024 09:01:23 +0000",
        "10 Aug 2024 09:01:23 UTC",
        "Sat,  10 Aug 2024 09:01:23 UTC",
    ],
)
def test_dates_apt_accepts(value: str) -> None:
    assert parse_date(value, "Release") == datetime(2024, 8, 10, 9, 1, 23, tzinfo=UTC)


def test_single_digit_day() -> None:
    assert parse_date("Thu, 1 Aug 2024 00:00:00 UTC", "R") == datetime(2024, 8, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "Sat, 10 Aug 2024 09:01:23 +0200",
        "2024-08-10T09:01:23Z",
        "Sat, 10 Aoû 2024 09:01:23 UTC",
        "Sat, 31 Feb 2024 09:01:23 UTC",
        "",
    ],
)
def test_dates_apt_refuses(value: str) -> None:
    with pytest.raises(BadUpstream, match=r"^InRelease has an (invalid|impossible) Date"):
        parse_date(value, "InRelease")


def test_format_date_round_trips() -> None:
    when = datetime(2024, 8, 10, 9, 1, 23, tzinfo=UTC)
    assert format_date(when) == "Sat, 10 Aug 2024 09:01:23 UTC"
    assert parse_date(format_date(when), "R") == when


def test_freshness_date_in_the_future() -> None:
    release = parse_release(make_release())
    check_freshness(release, release.date - timedelta(seconds=10))
    with pytest.raises(BadUpstream) as caught:
        check_freshness(release, release.date - timedelta(seconds=11), "debian InRelease")
    assert str(caught.value) == (
        "debian InRelease is dated Sat, 10 Aug 2024 09:01:23 UTC, in the future "
        "(the clock says Sat, 10 Aug 2024 09:01:12 UTC)"
    )


def test_freshness_valid_until() -> None:
    release = parse_release(make_release(head="Valid-Until: Sat, 17 Aug 2024 09:01:23 UTC\n"))
    check_freshness(release, datetime(2024, 8, 17, 9, 1, 23, tzinfo=UTC))
    with pytest.raises(BadUpstream, match="expired on Sat, 17 Aug 2024 09:01:23 UTC"):
        check_freshness(release, datetime(2024, 8, 17, 9, 1, 24, tzinfo=UTC))


def test_freshness_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError):
        check_freshness(parse_release(make_release()), datetime(2024, 8, 10))


def _urls(release: Release, **kwargs: object) -> dict[str, list[str]]:
    plans = plan_indices(release, **kwargs)  # type: ignore[arg-type]
    return {plan.path: [c.url_path for c in plan.candidates] for plan in plans}


def test_plan_prefers_gz_then_xz_by_hash_first(monkeypatch: pytest.MonkeyPatch) -> None:
    release = parse_release(make_release())
    plans = plan_indices(release, components=["main"], architectures=["amd64"], languages=[])
    assert [plan.path for plan in plans] == ["main/binary-amd64/Packages"]
    plan = plans[0]
    assert plan.uncompressed is not None and plan.uncompressed.sha256 == H1
    assert [(c.url_path, c.compression) for c in plan.candidates] == [
        (f"main/binary-amd64/by-hash/SHA256/{H3}", "gz"),
        ("main/binary-amd64/Packages.gz", "gz"),
        (f"main/binary-amd64/by-hash/SHA256/{H2}", "xz"),
        ("main/binary-amd64/Packages.xz", "xz"),
        (f"main/binary-amd64/by-hash/SHA256/{H1}", ""),
        ("main/binary-amd64/Packages", ""),
    ]
    assert plan.candidates[0].entry.size == 300


def test_plan_without_acquire_by_hash() -> None:
    release = parse_release(make_release().replace(b"Acquire-By-Hash: yes\n", b""))
    urls = _urls(release, components=["main"], architectures=["amd64"], languages=[])
    assert urls == {
        "main/binary-amd64/Packages": [
            "main/binary-amd64/Packages.gz",
            "main/binary-amd64/Packages.xz",
            "main/binary-amd64/Packages",
        ]
    }


def test_plan_zst_first_only_when_decodable(monkeypatch: pytest.MonkeyPatch) -> None:
    body = f" {H1} 10 main/binary-amd64/Packages.zst\n {H2} 20 main/binary-amd64/Packages.xz\n"
    release = parse_release(make_release(sha256=body))
    monkeypatch.setattr(plan_module, "available", lambda kind: True)
    plan = plan_indices(release, components=["main"], architectures=["amd64"], languages=[])[0]
    assert [c.compression for c in plan.candidates] == ["zst", "zst", "xz", "xz"]
    monkeypatch.setattr(plan_module, "available", lambda kind: kind != "zst")
    plan = plan_indices(release, components=["main"], architectures=["amd64"], languages=[])[0]
    assert [c.compression for c in plan.candidates] == ["xz", "xz"]


def test_plan_missing_architecture_is_refused() -> None:
    release = parse_release(make_release())
    with pytest.raises(BadUpstream) as caught:
        plan_indices(release, components=["main"], architectures=["arm64"], what="debian")
    assert str(caught.value) == (
        "debian does not list main/binary-arm64/Packages in any known compression"
    )


def test_plan_sources_translations_and_binary_all() -> None:
    body = (
        f" {H1} 10 main/binary-amd64/Packages.xz\n"
        f" {H1} 10 main/binary-all/Packages.xz\n"
        f" {H2} 20 main/source/Sources.xz\n"
        f" {H3} 30 main/i18n/Translation-en.bz2\n"
    )
    release = parse_release(make_release(sha256=body))
    plans = plan_indices(
        release, components=["main"], architectures=["amd64", "source"], languages=["en", "de"]
    )
    assert [(p.path, p.kind, p.architecture, p.language, p.required) for p in plans] == [
        ("main/binary-amd64/Packages", "packages", "amd64", None, True),
        ("main/binary-all/Packages", "packages", "all", None, False),
        ("main/source/Sources", "sources", "source", None, True),
        ("main/i18n/Translation-en", "translation", None, "en", False),
    ]
    assert plans[3].candidates[0].url_path == f"main/i18n/by-hash/SHA256/{H3}"
    assert plans[3].uncompressed is None


def test_plan_skips_binary_all_when_the_release_says_so() -> None:
    body = f" {H1} 10 main/binary-amd64/Packages.xz\n {H1} 10 main/binary-all/Packages.xz\n"
    release = parse_release(
        make_release(head="No-Support-for-Architecture-all: Packages\n", sha256=body)
    )
    plans = plan_indices(release, components=["main"], architectures=["amd64"], languages=[])
    assert [p.path for p in plans] == ["main/binary-amd64/Packages"]


def test_plan_corpus_bookworm(corpus: Path) -> None:
    release = parse_release((corpus / "debian/dists/bookworm/Release").read_bytes())
    plans = plan_indices(release, components=["main"], architectures=["amd64", "source"])
    assert [p.path for p in plans] == [
        "main/binary-amd64/Packages",
        "main/source/Sources",
        "main/i18n/Translation-en",
    ]
    packages = plans[0]
    assert packages.uncompressed is not None and packages.uncompressed.size == 50060337
    # The corpus holds only Packages.xz and its by-hash copy: the plan reaches them.
    existing = [
        c for c in packages.candidates if (corpus / "debian/dists/bookworm" / c.url_path).exists()
    ]
    assert [c.compression for c in existing] == ["xz", "xz"]
    assert "by-hash" in existing[0].url_path
