"""A mirror home wired to fixture archives, and a ``sync`` helper going through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NOW = "2025-06-01T00:00:00Z"


@dataclass
class Mirror:
    home: Path
    run_cli: Callable[..., Any]
    env: dict[str, str]

    def cli(self, *args: str) -> Any:
        return self.run_cli("--home", str(self.home), *args, env=self.env)

    def add(
        self,
        archive: Any,
        *extra: str,
        name: str | None = None,
        suites: list[str] | None = None,
        archs: tuple[str, ...] = ("amd64",),
        components: tuple[str, ...] = ("main",),
    ) -> None:
        """``archive add`` for a fixture archive (its URL, suites and keyring)."""
        self.add_url(
            name or archive.name,
            archive.url,
            archive.keyring_path,
            *extra,
            suites=suites or sorted(archive.suites),
            archs=archs,
            components=components,
        )

    def add_url(
        self,
        name: str,
        url: str,
        keyring: Path | str,
        *extra: str,
        suites: list[str] | tuple[str, ...] = ("bookworm",),
        archs: tuple[str, ...] = ("amd64",),
        components: tuple[str, ...] = ("main",),
    ) -> None:
        """``archive add NAME URL``; the command must succeed."""
        args = ["archive", "add", name, url, "--keyring", str(keyring)]
        for component in components:
            args += ["--component", component]
        for suite in suites:
            args += ["--suite", suite]
        for arch in archs:
            args += ["--arch", arch]
        result = self.cli(*args, *extra)
        assert result.code == 0, result.stderr

    def sync(self, *extra: str) -> dict[str, Any]:
        result = self.cli("sync", "--json", *extra)
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def sync_fails(self, *extra: str) -> str:
        result = self.cli("sync", "--json", *extra)
        assert result.code != 0, result.stdout
        assert result.stdout == ""
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        return str(lines[0])

    def versions(self) -> list[str]:
        out = json.loads(self.cli("versions", "--json").stdout)
        return [v["repoversion"] for v in out]

    def show(self, ref: str) -> dict[str, Any]:
        result = self.cli("show", ref, "--json")
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def diff(self, a: str, b: str) -> dict[str, Any]:
        result = self.cli("diff", a, b, "--json")
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data


@pytest.fixture
def mirror(home: Path, run_cli: Callable[..., Any]) -> Mirror:
    return Mirror(home, run_cli, {"REPOVERSION_NOW": NOW})


@pytest.fixture
def mirror_on_db(tmp_path: Path, run_cli: Callable[..., Any], db_url: str) -> Mirror:
    """A :class:`Mirror` whose home keeps its metadata at ``db_url``."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
    env = {"REPOVERSION_NOW": NOW}
    result = run_cli("--home", str(home), "init", env=env)
    assert result.code == 0, result.stderr
    return Mirror(home, run_cli, env)
