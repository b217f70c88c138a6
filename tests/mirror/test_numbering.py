"""Every numbering rule of SPEC section 2, on real signed fixture archives."""

from __future__ import annotations

import hashlib
import json

from repoversion.versions.numbering import canonical_json
from tests.fixtures.archives import Pkg, SrcPkg


def test_first_sync_is_1_0_0_with_a_correct_index(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("libfoo1", "2.0", depends="libc6")])
    mirror.add(arc)
    out = mirror.sync()
    assert out["repoversion"] == "1.0.0" and out["new"] is True and out["bump"] == "major"
    assert out["changes"] == {"added": 2, "removed": 0, "upgraded": 0, "downgraded": 0}
    index = mirror.show("1.0.0")
    assert index["format"] == 1 and index["parent"] is None
    suite = index["archives"]["debian"]["suites"]["bookworm"]
    assert suite["release"]["codename"] == "bookworm"
    files = suite["files"]
    assert "main/binary-amd64/Packages.xz" in files or "main/binary-amd64/Packages.gz" in files
    for path, ref in files.items():
        assert ref["sha256"] == arc.sha256(f"dists/bookworm/{path}"), path
    manifest = {
        a: {s: d["files"] for s, d in v["suites"].items()} for a, v in index["archives"].items()
    }
    assert index["state"] == "sha256:" + hashlib.sha256(canonical_json(manifest)).hexdigest()
    assert out["state"] == index["state"]
    assert mirror.versions() == ["1.0.0"]


def test_unchanged_upstream_gives_no_new_version(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    first = mirror.sync()
    again = mirror.sync()
    assert again["new"] is False and again["repoversion"] == "1.0.0"
    assert again["state"] == first["state"]
    assert mirror.versions() == ["1.0.0"]


def test_added_and_upgraded_packages_bump_minor_removed_bumps_major(
    mirror, fixture_archive
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("extra", "0.1"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("1.1.0", "minor")
    assert out["changes"]["added"] == 1
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("1.2.0", "minor")
    assert out["changes"]["upgraded"] == 1
    arc.remove("world")
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("2.0.0", "major")
    assert out["changes"]["removed"] == 1
    assert mirror.versions() == ["2.0.0", "1.2.0", "1.1.0", "1.0.0"]
    assert mirror.show("2.0.0")["parent"] == "1.2.0"
    diff = mirror.diff("1.0.0", "2.0.0")
    assert [(p["name"], p["version"]) for p in diff["added"]] == [("extra", "0.1")]
    assert [(p["name"], p["version"]) for p in diff["removed"]] == [("world", "1.0")]
    assert [(p["name"], p["from"], p["to"]) for p in diff["upgraded"]] == [("hello", "1.0", "1.1")]
    back = mirror.diff("2.0.0", "1.0.0")
    assert [p["name"] for p in back["downgraded"]] == ["hello"]
    assert [p["name"] for p in back["added"]] == ["world"]


def test_resigned_release_is_no_change_in_signed_mode(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.resign()
    out = mirror.sync()
    assert out["new"] is False and out["repoversion"] == "1.0.0"


def test_resigned_release_is_a_patch_in_verbatim_mode(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc, "--mode", "verbatim")
    mirror.sync()
    files = mirror.show("1.0.0")["archives"]["debian"]["suites"]["bookworm"]["files"]
    for name in ("InRelease", "Release", "Release.gpg"):
        assert files[name]["sha256"] == arc.sha256(f"dists/bookworm/{name}"), name
    arc.resign()
    out = mirror.sync()
    assert (out["new"], out["repoversion"], out["bump"]) == (True, "1.0.1", "patch")
    assert out["changes"] == {"added": 0, "removed": 0, "upgraded": 0, "downgraded": 0}


def test_bump_flag_raises_but_never_lowers(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("a", "1"))
    arc.publish()
    assert mirror.sync("--bump", "major")["repoversion"] == "2.0.0"
    arc.add(Pkg("b", "1"))
    arc.publish()
    assert mirror.sync("--bump", "patch")["repoversion"] == "2.1.0"


def test_older_release_is_ignored_with_a_warning(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    arc.add(Pkg("hello", "0.9"))
    arc.publish(date=datetime(2023, 1, 1, tzinfo=UTC))
    out = mirror.sync()
    assert out["new"] is False and out["repoversion"] == "1.0.0"
    assert any("older than" in w for w in out["warnings"])


def test_archive_added_then_removed_bumps_major(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    one = fixture_archive([Pkg("hello", "1.0")], name="one")
    two = fixture_archive([Pkg("other", "1.0")], name="two")
    mirror.add(one)
    mirror.sync()
    mirror.add(two)
    assert mirror.sync()["repoversion"] == "2.0.0"
    assert sorted(mirror.show("latest")["archives"]) == ["one", "two"]
    assert mirror.cli("archive", "remove", "two").code == 0
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("3.0.0", "major")
    assert sorted(mirror.show("3.0.0")["archives"]) == ["one"]
    # the old version still holds what it held
    assert sorted(mirror.show("2.0.0")["archives"]) == ["one", "two"]


def test_several_suites_and_sources_form_one_version(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive(
        suites={
            "bookworm": [Pkg("hello", "1.0"), SrcPkg("hello", "1.0")],
            "bookworm-updates": [Pkg("hello", "1.1"), SrcPkg("hello", "1.1")],
        }
    )
    mirror.add(arc, archs=("amd64", "source"))
    out = mirror.sync()
    assert out["repoversion"] == "1.0.0"
    index = mirror.show("1.0.0")
    suites = index["archives"]["debian"]["suites"]
    assert sorted(suites) == ["bookworm", "bookworm-updates"]
    assert any(p.startswith("main/source/Sources") for p in suites["bookworm"]["files"])
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.db.session import transaction
    from repoversion.versions.contents import packages_of
    from repoversion.versions.refs import resolve_ref

    ctx = Context(load_settings(mirror.home, environ={}))
    with transaction(ctx.sessions) as s:
        pkgs = [p for _, p in packages_of(s, resolve_ref(s, "1.0.0").id)]
    ctx.close()
    assert sorted((p["suite"], p["name"], p["architecture"]) for p in pkgs) == [
        ("bookworm", "hello", "amd64"),
        ("bookworm", "hello", "source"),
        ("bookworm-updates", "hello", "amd64"),
        ("bookworm-updates", "hello", "source"),
    ]
    dsc = next(p for p in pkgs if p["architecture"] == "source")
    assert dsc["filename"].endswith(".dsc")


def test_sync_json_when_nothing_is_configured(mirror) -> None:  # type: ignore[no-untyped-def]
    out = mirror.sync()
    assert out["new"] is False
    assert json.loads(mirror.cli("versions", "--json").stdout) == []


def test_an_architecture_no_longer_mirrored_drops_its_packages(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive(
        [
            Pkg("hello", "1.0"),
            Pkg("armonly", "1.0", architecture="arm64"),
            Pkg("hello", "1.0", architecture="arm64"),
        ]
    )
    mirror.add(arc, archs=("amd64", "arm64"))
    assert mirror.sync()["changes"]["added"] == 3
    assert mirror.cli("archive", "remove", "debian").code == 0
    mirror.add(arc, archs=("amd64",))
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("2.0.0", "major")
    assert out["changes"]["removed"] == 2
    diff = mirror.diff("1.0.0", "2.0.0")
    assert sorted((p["name"], p["architecture"]) for p in diff["removed"]) == [
        ("armonly", "arm64"),
        ("hello", "arm64"),
    ]


def test_a_package_changing_component_is_not_removed_from_its_suite(
    mirror, fixture_archive
) -> None:  # type: ignore[no-untyped-def]
    """SPEC section 2: major only when a package disappears from the suite. Moving from
    main to contrib changes rows (minor) but removes nothing, in the sync and in diff."""
    arc = fixture_archive(
        [Pkg("hello", "1.0"), Pkg("mover", "1.0"), Pkg("other", "1.0", component="contrib")]
    )
    mirror.add(arc, components=("main", "contrib"))
    assert mirror.sync()["repoversion"] == "1.0.0"
    arc.remove("mover")
    arc.add(Pkg("mover", "1.0", component="contrib"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("1.1.0", "minor")
    assert out["changes"] == {"added": 0, "removed": 0, "upgraded": 0, "downgraded": 0}
    diff = mirror.diff("1.0.0", "1.1.0")
    assert diff["counts"] == out["changes"]
    assert diff["removed"] == [] and diff["added"] == []
    files = mirror.show("1.1.0")["archives"]["debian"]["suites"]["bookworm"]["files"]
    assert any(p.startswith("contrib/binary-amd64/Packages") for p in files)

    arc.remove("mover")
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("2.0.0", "major")
    assert out["changes"]["removed"] == 1
    assert [p["name"] for p in mirror.diff("1.1.0", "2.0.0")["removed"]] == ["mover"]


def test_a_package_in_two_components_losing_one_is_not_removed(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    """Dropped from main but still in contrib (a scope the sync does not re-read): the
    suite still holds it, so nothing disappears."""
    arc = fixture_archive([Pkg("both", "1.0"), Pkg("keep", "1.0")])
    # the same package listed by two components (add() would replace one by the other)
    arc.suites["bookworm"] += [
        Pkg("both", "1.0", component="contrib"),
        Pkg("stay", "1.0", component="contrib"),
    ]
    arc.publish()
    mirror.add(arc, components=("main", "contrib"))
    assert mirror.sync()["changes"]["added"] == 3  # (name, architecture) pairs
    arc.suites["bookworm"] = [
        p for p in arc.suites["bookworm"] if (p.name, p.component) != ("both", "main")
    ]
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["bump"]) == ("1.1.0", "minor"), out
    assert out["changes"]["removed"] == 0
    assert mirror.diff("1.0.0", "1.1.0")["counts"]["removed"] == 0
