"""A small archive that exercises what apt's resolver handles, synced into a mirror home.

:func:`world` holds alternatives, conflicts, a virtual package with one provider and one
with two, Multi-Arch ``:any``, an Essential package, Recommends, two versions side by
side, and a second suite (``bookworm-backports``) whose packages need dependencies from
there. ``locked`` is a factory running ``repoversion lock`` through the CLI and reading
the lockfile back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import Mirror
from tests.web import conftest as web_conftest

mirror = mirror_conftest.mirror
serve = web_conftest.serve
server_key = web_conftest.server_key


def world() -> dict[str, list[Pkg]]:
    """Suite → packages."""
    return {
        "bookworm": [
            Pkg("libc6", "2.36-9", multi_arch="same", priority="required"),
            Pkg("base-files", "12.4", priority="required", extra={"Essential": "yes"}),
            Pkg("hello", "1.0-1", depends="libc6 (>= 2.34)", recommends="hello-doc"),
            Pkg("hello-doc", "1.0-1", architecture="all"),
            Pkg("perl", "5.36.0-7", multi_arch="allowed", depends="libc6"),
            Pkg("tool", "1.0", depends="perl:any, mailer"),
            Pkg("mta-one", "1.0", provides="mailer"),
            Pkg("mta-a", "1.0", provides="mail-transport-agent"),
            Pkg("mta-b", "1.0", provides="mail-transport-agent"),
            Pkg("app", "1.0", depends="mid"),
            Pkg("mid", "1.0", depends="libbar (>= 2)"),
            Pkg("libbar", "1.0"),
            Pkg("x", "1.0", depends="a | b"),
            Pkg("a", "1.0", conflicts="y"),
            Pkg("b", "1.0"),
            Pkg("y", "1.0"),
            Pkg("clash", "1.0", conflicts="hello"),
            Pkg("gitx", "1.0", depends="libc6"),
            Pkg("gitx-gui", "1.0", depends="gitx (= 1.0), tk"),
            Pkg("tk", "8.6"),
            Pkg("libz", "3.0"),
        ],
        "bookworm-backports": [
            Pkg("hello", "2.0-1", depends="libc6 (>= 2.36)"),
            Pkg("tool2", "2.0", depends="libz (<< 3)"),
            Pkg("libz", "2.5"),
        ],
    }


@pytest.fixture
def world_archive(fixture_archive: Callable[..., FixtureArchive]) -> FixtureArchive:
    """:func:`world`, with ``hello 0.9-1`` beside ``1.0-1`` in bookworm, published."""
    arc = fixture_archive(suites=world(), publish=False)
    arc.add(Pkg("hello", "0.9-1", depends="libc6"), suite="bookworm", replace=False)
    arc.publish()
    return arc


@pytest.fixture
def world_mirror(mirror: Mirror, world_archive: FixtureArchive) -> Mirror:
    """``mirror`` with :func:`world` synced into 1.0.0."""
    mirror.add(world_archive)
    assert mirror.sync()["repoversion"] == "1.0.0"
    return mirror


def lock_cli(mirror: Mirror, *args: str, version: str = "1.0.0") -> Any:
    """``repoversion lock --version VERSION --arch amd64 ARGS``."""
    return mirror.cli("lock", "--version", version, "--arch", "amd64", *args)


@pytest.fixture
def locked(world_mirror: Mirror) -> Callable[..., dict[str, Any]]:
    """``locked(*args)``: the lockfile ``lock`` prints for ARGS (which must succeed)."""

    def run(*args: str, version: str = "1.0.0") -> dict[str, Any]:
        result = lock_cli(world_mirror, *args, version=version)
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    return run


def names(lock: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(name, version, architecture) of every package, sorted."""
    return sorted((p["name"], p["version"], p["architecture"]) for p in lock["packages"])


def write(path: Path, lock: dict[str, Any]) -> Path:
    """``lock`` as a lockfile at ``path`` (canonical form)."""
    path.write_bytes(json.dumps(lock, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    return path
