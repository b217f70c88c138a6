"""The docs keep up with the code: every setting and every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click

from repoversion.cli import cli
from repoversion.config import _PARSERS, ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_configuration_md() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| `([a-z0-9_]+)` \| `([A-Z0-9_]+)` \|", text, re.M)
    }
    missing = [name for name in _PARSERS if name not in rows]
    assert not missing, f"docs/configuration.md lacks a row for {missing}"
    for name, var in rows.items():
        assert var == ENV_PREFIX + name.upper(), name
    stale = sorted(set(rows) - set(_PARSERS))
    assert not stale, f"docs/configuration.md documents unknown settings {stale}"
    assert set(_PARSERS) == {f for f in Settings.__dataclass_fields__ if f != "home"}


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out: list[str] = []
    commands = getattr(group, "all_commands", group.commands)
    for name, command in sorted(commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out += _commands(command, full + " ")
        else:
            out.append(full)
    return out


def test_every_command_is_in_cli_md() -> None:
    headings = [
        line for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line[:4] == "### "
    ]
    missing = [c for c in _commands(cli) if not any(f"`repoversion {c}" in h for h in headings)]
    assert not missing, f"docs/cli.md has no section for {missing}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("make run") < text.index("make test") < text.index("## A tour")
    for doc in ("cli.md", "configuration.md", "architecture.md", "storage.md"):
        assert (ROOT / "docs" / doc).is_file() and f"docs/{doc}" in text, doc
