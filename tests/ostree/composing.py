"""Helpers of the compose tests: a home with a fixture archive synced, lockfiles made with
``repoversion lock``, composes through the CLI, checkouts read with the real ``dpkg``.

:func:`shell_package` packs this machine's ``dash`` and the two libraries it loads into a
fixture package, so a composed root of fixture packages can run ``/bin/sh`` maintainer
scripts in a chroot.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror


def _real(path: str) -> bytes:
    return Path(os.path.realpath(path)).read_bytes()


def shell_package() -> Pkg:
    """``shell``: ``/bin/sh`` (this machine's dash), libc and the dynamic loader."""
    libc = "lib/x86_64-linux-gnu/libc.so.6"
    return Pkg(
        "shell",
        "1.0-1",
        files={
            "bin/sh": _real("/bin/dash"),
            libc: _real(f"/{libc}"),
            "lib64/ld-linux-x86-64.so.2": _real("/lib64/ld-linux-x86-64.so.2"),
        },
        modes={"bin/sh": 0o755, libc: 0o755, "lib64/ld-linux-x86-64.so.2": 0o755},
        extra={"Essential": "yes"},
    )


@dataclass
class Composer:
    """A synced home and what the tests do with it."""

    mirror: Mirror
    tmp: Path

    @property
    def repo(self) -> Path:
        return self.mirror.home / "ostree"

    def lock(self, *packages: str, name: str = "repoversion.lock.json") -> Path:
        """``repoversion lock`` of ``packages`` against 1.0.0 into a file."""
        path = self.tmp / name
        result = self.mirror.cli(
            "lock", "--version", "1.0.0", "--arch", "amd64", *packages, "-o", str(path)
        )
        assert result.code == 0, result.stderr
        return path

    def compose(self, lockfile: Path, ref: str, *flags: str) -> dict[str, Any]:
        """``ostree compose``, which must succeed."""
        result = self.compose_result(lockfile, ref, *flags)
        assert result.code == 0, result.stderr
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def compose_result(self, lockfile: Path, ref: str, *flags: str) -> Any:
        return self.mirror.cli(
            "ostree", "compose", "--lockfile", str(lockfile), "--ref", ref, "--json", *flags
        )

    def fails(self, lockfile: Path, ref: str, *flags: str) -> str:
        """``ostree compose`` fails: its one line of error."""
        result = self.compose_result(lockfile, ref, *flags)
        assert result.code != 0, result.stdout
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        return str(lines[0])

    def ostree(self, *args: str) -> str:
        proc = subprocess.run(
            ["ostree", args[0], f"--repo={self.repo}", *args[1:]],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def checkout(self, ref: str, name: str = "root") -> Path:
        """``ostree checkout`` of ``ref`` (as root: owners kept)."""
        target = self.tmp / name
        self.ostree("checkout", ref, str(target))
        return target

    def metadata(self, ref: str, key: str) -> Any:
        """A value of the commit's metadata (``ostree show`` prints GVariant text)."""
        from gi.repository import GLib

        out = self.ostree("show", ref, f"--print-metadata-key={key}").strip()
        return GLib.Variant.parse(None, out, None, None).unpack()


def dpkg_states(root: Path) -> dict[str, str]:
    """package → the two-letter state ``dpkg --root=ROOT -l`` prints (``iU``, ``ii``…)."""
    proc = subprocess.run(
        ["dpkg", f"--root={root}", "-l"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    states = {}
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) >= 3 and len(words[0]) == 2 and words[0][0] in "uirhp":
            states[words[1].split(":")[0]] = words[0]
    return states


def package_names(lockfile: Path) -> set[str]:
    return {p["name"] for p in json.loads(lockfile.read_text())["packages"]}


def synced(mirror: Mirror, make_archive: Callable[..., Any], packages: Iterable[Pkg]) -> None:
    """A fixture archive with ``packages`` in bookworm, added and synced as 1.0.0."""
    archive = make_archive(list(packages), suite="bookworm")
    mirror.add(archive)
    assert mirror.sync()["repoversion"] == "1.0.0"
