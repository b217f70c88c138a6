"""Shared CLI plumbing: the lazily built context, JSON output, tables.

Settings, the context and everything below them are imported on first use, not here:
``repoversion --help`` and a read from a remote server (``--server``) never import the
database layer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from repoversion.config import Settings
    from repoversion.context import Context


class Obj:
    """Built per invocation; settings and context are created on first use."""

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self._settings: Settings | None = None
        self._ctx: Context | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from repoversion.config import load_settings

            self._settings = load_settings(self.home)
        return self._settings

    @property
    def ctx(self) -> Context:
        if self._ctx is None:
            from repoversion.context import Context

            self._ctx = Context(self.settings)
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()


pass_obj = click.make_pass_decorator(Obj)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON only.")


def print_json(data: Any) -> None:
    """``data`` as indented JSON, keys sorted: the same text whether it came from the
    home or from a server's API (whose JSON keys are sorted too)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table (no colour when not on a terminal)."""
    if not rows:
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns).rstrip())


Report = Callable[[str, int, int], None]


@contextmanager
def progress(enabled: bool) -> Iterator[Report]:
    """``report(stage, done, total)``: one rich progress bar per stage on a terminal, and a
    no-op otherwise (long work stays quiet when its output is piped)."""
    if not enabled:
        yield lambda _stage, _done, _total: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), transient=True
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield report
