"""Release identity as apt checks it (SPEC section 2, sync): a validly signed Release for
another distribution, or with another Codename than the one last synced, is refused unless
``sync --allow-releaseinfo-change ARCHIVE/SUITE`` accepts it; a release-day Suite change
is fine."""

from __future__ import annotations

import shutil

import pytest

from repoversion.mirror.identity import names_suite
from tests.fixtures.archives import Pkg, SuiteOptions
from tests.mirror.conftest import NOW, Mirror

OPTION = "--allow-releaseinfo-change"


def stable_and_sid(fixture_archive, **options):  # type: ignore[no-untyped-def]
    """An archive whose ``stable`` is Codename bookworm and whose ``sid`` is Suite
    unstable, Codename sid: one key signs both, as at Debian."""
    arc = fixture_archive(
        suites={"stable": [Pkg("hello", "1.0")], "sid": [Pkg("hello", "2.0"), Pkg("evil", "1")]},
        publish=False,
        **options,
    )
    arc.suite_options["stable"] = SuiteOptions(codename="bookworm")
    arc.suite_options["sid"] = SuiteOptions(suite="unstable", codename="sid")
    arc.publish()
    return arc


def serve_sid_as_stable(arc) -> None:  # type: ignore[no-untyped-def]
    """Upstream (or a man in the middle) serves sid's tree, newer and validly signed, at
    ``dists/stable/``."""
    arc.publish()
    shutil.rmtree(arc.root / "dists" / "stable")
    shutil.copytree(arc.root / "dists" / "sid", arc.root / "dists" / "stable")


def release(mirror: Mirror, version: str, archive: str = "debian", suite: str = "stable"):  # type: ignore[no-untyped-def]
    return mirror.show(version)["archives"][archive]["suites"][suite]["release"]


def test_another_codename_is_refused_and_nothing_committed(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = stable_and_sid(fixture_archive)
    mirror.add(arc, suites=["stable"])
    assert mirror.sync()["repoversion"] == "1.0.0"
    serve_sid_as_stable(arc)
    message = mirror.sync_fails()
    assert message == (
        "error: debian: dists/stable/InRelease says Codename sid, but bookworm was synced "
        f"before; sync {OPTION} debian/stable accepts the change."
    )
    assert mirror.versions() == ["1.0.0"]
    assert release(mirror, "1.0.0")["codename"] == "bookworm"
    # the refusal holds on every later sync, not only the first one that saw it
    assert mirror.sync_fails() == message


def test_optional_archive_with_another_codename_keeps_its_state(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = stable_and_sid(fixture_archive)
    other = fixture_archive([Pkg("hello", "1.0")], name="other")
    mirror.add(arc, "--optional", suites=["stable"])
    mirror.add(other)
    assert mirror.sync()["repoversion"] == "1.0.0"
    serve_sid_as_stable(arc)
    other.add(Pkg("world", "1.0"))
    other.publish()
    out = mirror.sync()
    assert out["repoversion"] == "1.1.0"
    assert out["warnings"] == [
        "debian: dists/stable/InRelease says Codename sid, but bookworm was synced before; "
        f"sync {OPTION} debian/stable accepts the change; archive debian is optional and "
        "keeps its previous state."
    ]
    added = mirror.diff("1.0.0", "1.1.0")["added"]
    assert [(p["archive"], p["name"]) for p in added] == [("other", "world")]
    assert release(mirror, "1.1.0")["codename"] == "bookworm"


def test_first_sync_of_another_distribution_is_refused(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = stable_and_sid(fixture_archive)
    mirror.add(arc, suites=["stable"])
    serve_sid_as_stable(arc)
    assert mirror.sync_fails() == (
        "error: debian: dists/stable/InRelease says Suite unstable and Codename sid, neither "
        f"of which is stable; sync {OPTION} debian/stable accepts the change."
    )
    assert mirror.versions() == []


def test_release_day_suite_change_is_accepted(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")], publish=False)
    arc.suite_options["bookworm"] = SuiteOptions(suite="stable")
    arc.publish()
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    arc.suite_options["bookworm"] = SuiteOptions(suite="oldstable")
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["warnings"]) == ("1.1.0", [])
    got = release(mirror, "1.1.0", suite="bookworm")
    assert (got["suite"], got["codename"]) == ("oldstable", "bookworm")


@pytest.fixture
def any_db_mirror(tmp_path, run_cli, db_url) -> Mirror:  # type: ignore[no-untyped-def]
    """A mirror home on SQLite, then on PostgreSQL."""
    env = {"REPOVERSION_NOW": NOW, "REPOVERSION_DATABASE_URL": db_url}
    home = tmp_path / "home-db"
    assert run_cli("--home", str(home), "init", env=env).code == 0
    return Mirror(home, run_cli, env)


def test_allow_releaseinfo_change_accepts_a_new_codename(any_db_mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    mirror = any_db_mirror
    arc = fixture_archive([Pkg("hello", "1.0")], suite="stable", publish=False)
    arc.suite_options["stable"] = SuiteOptions(codename="bookworm")
    arc.publish()
    mirror.add(arc)
    assert mirror.sync()["repoversion"] == "1.0.0"
    # Debian's release day for a suite configured as `stable`: Suite stays, Codename moves
    arc.suite_options["stable"] = SuiteOptions(codename="trixie")
    arc.add(Pkg("hello", "2.0"))
    arc.publish()
    assert mirror.sync_fails() == (
        "error: debian: dists/stable/InRelease says Codename trixie, but bookworm was synced "
        f"before; sync {OPTION} debian/stable accepts the change."
    )
    assert mirror.versions() == ["1.0.0"]
    out = mirror.sync(OPTION, "debian/stable")
    assert (out["repoversion"], out["changes"]["upgraded"]) == ("1.1.0", 1)
    assert out["warnings"] == [
        "debian: dists/stable/InRelease says Codename trixie, but bookworm was synced "
        f"before; accepted by {OPTION} debian/stable."
    ]
    assert release(mirror, "1.1.0")["codename"] == "trixie"
    arc.add(Pkg("hello", "2.1"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["warnings"]) == ("1.2.0", [])


def test_a_bad_allow_releaseinfo_change_value_is_one_sentence(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    for value, says in [
        ("debian", "is not of the form ARCHIVE/SUITE"),
        ("debian/", "is not of the form ARCHIVE/SUITE"),
        ("/bookworm", "is not of the form ARCHIVE/SUITE"),
        ("nosuch/bookworm", "names no configured suite"),
        ("debian/trixie", "names no configured suite"),
    ]:
        message = mirror.sync_fails(OPTION, "debian/bookworm", OPTION, value)
        assert message.startswith(f"error: {OPTION} {value!r} {says}"), message
    assert mirror.versions() == []
    assert not [r for r in arc.server.log if "InRelease" in r.path]


def test_names_suite_as_apt_checks_the_distribution() -> None:
    assert names_suite("stable", suite="stable", codename="trixie")
    assert names_suite("bookworm", suite="oldstable", codename="bookworm")
    assert names_suite("bookworm/updates", suite="oldstable", codename="bookworm")
    assert not names_suite("stable", suite="unstable", codename="sid")
    assert not names_suite("stable", suite=None, codename=None)
    assert not names_suite("stable/updates", suite="updates", codename=None)
