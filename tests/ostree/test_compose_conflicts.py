"""Two packages shipping one path: refused unless identical or one Replaces the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import mirror  # noqa: F401 - the fixture
from tests.ostree.composing import Composer, dpkg_states, synced

X = "usr/bin/x"


def packages() -> list[Pkg]:
    return [
        Pkg("left", "1.0-1", files={"usr/share/common/file": b"left\n"}),
        Pkg("right", "1.0-1", files={"usr/share/common/file": b"right\n"}),
        Pkg("twin-a", "1.0-1", files={"usr/share/twins/same": b"same\n", "usr/share/a": b"a"}),
        Pkg("twin-b", "1.0-1", files={"usr/share/twins/same": b"same\n", "usr/share/b": b"b"}),
        # sorted first in the lockfile, yet its file must win: it replaces zzz-old
        Pkg("aaa-new", "2.0-1", replaces="zzz-old (<< 2.0)", files={X: b"new\n"}),
        Pkg("zzz-old", "1.0-1", files={X: b"old\n", "usr/share/old/kept": b"kept\n"}),
        Pkg("aaa-narrow", "2.0-1", replaces="zzz-old (<< 1.0)", files={X: b"narrow\n"}),
        Pkg("by-virtual", "1.0-1", replaces="old-api", files={"usr/share/api": b"new api\n"}),
        Pkg("provider", "1.0-1", provides="old-api", files={"usr/share/api": b"old api\n"}),
        Pkg("has-dir", "1.0-1", files={"usr/share/thing/inside": b"in\n"}),
        Pkg("has-file", "1.0-1", files={"usr/share/thing": b"a file\n"}),
    ]


@pytest.fixture
def composer(mirror, fixture_archive, tmp_path: Path) -> Composer:  # type: ignore[no-untyped-def]  # noqa: F811
    synced(mirror, fixture_archive, packages())
    return Composer(mirror, tmp_path)


def test_different_contents_are_refused_and_nothing_committed(composer: Composer) -> None:
    message = composer.fails(composer.lock("left", "right"), "rv/clash")
    assert message == (
        "error: Cannot compose: 1 path(s) are shipped differently by two packages and "
        "neither Replaces the other: /usr/share/common/file (left (1.0-1) and right (1.0-1): "
        "different contents)."
    )
    assert not (composer.repo / "refs/heads/rv").exists()


def test_a_directory_against_a_file_is_refused(composer: Composer) -> None:
    message = composer.fails(composer.lock("has-dir", "has-file"), "rv/kinds")
    assert "/usr/share/thing (has-dir (1.0-1) and has-file (1.0-1): a directory in one" in message


def test_an_unsatisfied_versioned_replaces_does_not_count(composer: Composer) -> None:
    message = composer.fails(composer.lock("aaa-narrow", "zzz-old"), "rv/narrow")
    assert f"/{X} (aaa-narrow (2.0-1) and zzz-old (1.0-1): different contents)" in message


def test_identical_files_are_owned_by_both(composer: Composer) -> None:
    composer.compose(composer.lock("twin-a", "twin-b"), "rv/twins")
    root = composer.checkout("rv/twins")
    info = root / "var/lib/dpkg/info"
    for name in ("twin-a", "twin-b"):
        assert "/usr/share/twins/same" in (info / f"{name}.list").read_text().splitlines()
    assert dpkg_states(root) == {"twin-a": "iU", "twin-b": "iU"}


def test_replaces_takes_the_file_over_whatever_the_lockfile_order(composer: Composer) -> None:
    composer.compose(composer.lock("aaa-new", "zzz-old"), "rv/replaced")
    root = composer.checkout("rv/replaced")
    assert (root / X).read_bytes() == b"new\n"
    info = root / "var/lib/dpkg/info"
    assert f"/{X}" in (info / "aaa-new.list").read_text().splitlines()
    old = (info / "zzz-old.list").read_text().splitlines()
    assert f"/{X}" not in old and "/usr/share/old/kept" in old
    # dpkg agrees on who owns what
    owner = _owner(root, f"/{X}")
    assert owner == "aaa-new"


def test_replaces_on_a_virtual_package_covers_its_providers(composer: Composer) -> None:
    composer.compose(composer.lock("by-virtual", "provider"), "rv/virtual")
    root = composer.checkout("rv/virtual")
    assert (root / "usr/share/api").read_bytes() == b"new api\n"
    assert _owner(root, "/usr/share/api") == "by-virtual"


def _owner(root: Path, path: str) -> str:
    import subprocess

    proc = subprocess.run(
        ["dpkg-query", f"--root={root}", "-S", path], capture_output=True, text=True, check=True
    )
    return proc.stdout.split(":")[0]
