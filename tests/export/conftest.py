"""A mirror with two fixture archives (one ``signed``, one ``verbatim``) synced once, and
helpers to export it and to point an isolated apt at the exported tree."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.archives import FixtureArchive, Pkg, SrcPkg
from tests.mirror.conftest import Mirror, mirror_on_db  # noqa: F401  (fixture)
from tests.web.conftest import mirror, serve, server_key  # noqa: F401  (fixtures)


@dataclass
class Synced:
    """The mirror and its two upstreams, version 1.0.0 committed."""

    mirror: Mirror
    debian: FixtureArchive  # signed
    extra: FixtureArchive  # verbatim

    def export(self, ref: str, dest: Path, *extra: str) -> dict[str, Any]:
        """``export REF DEST --json``; it must succeed."""
        result = self.mirror.cli("export", ref, str(dest), "--json", *extra)
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def export_fails(self, ref: str, dest: Path, *extra: str) -> str:
        """``export`` that must fail with one sentence on stderr and nothing on stdout."""
        result = self.mirror.cli("export", ref, str(dest), *extra)
        assert result.code == 1, result.stdout
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stdout == ""
        return lines[0]


@pytest.fixture
def synced(mirror: Mirror, fixture_archive: Callable[..., FixtureArchive]) -> Synced:  # noqa: F811
    debian = fixture_archive(
        [
            Pkg("hello", "1.0-1", depends="libfoo1"),
            Pkg("libfoo1", "2.0"),
            Pkg("other", "3.0"),
            SrcPkg("hello", "1.0-1"),
        ],
        name="debian",
    )
    extra = fixture_archive([Pkg("tool", "1.5", depends="libfoo1 | other")], name="extra")
    mirror.add(debian, archs=("amd64", "source"))
    mirror.add(extra, "--mode", "verbatim")
    assert mirror.sync()["repoversion"] == "1.0.0"
    return Synced(mirror, debian, extra)


def file_sources(root: Path, base: str | None = None) -> list[str]:
    """apt lines for both archives of an export at ``root`` (``base``: its URL, default a
    ``file:`` URL): the server's key for the signed one, upstream's for the verbatim one."""
    url = base or f"file:{root}"
    prov = root / "provenance"
    return [
        f"deb [signed-by={prov / 'keys' / 'repoversion.gpg'}] {url}/debian bookworm main",
        f"deb [signed-by={prov / 'keyrings' / 'extra.gpg'}] {url}/extra bookworm main",
    ]


def check_sh(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the export's own ``provenance/check.sh`` (gpgv, sha256sum, awk…) from elsewhere."""
    return subprocess.run(
        ["sh", str(root / "provenance" / "check.sh")],
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
        timeout=120,
    )
