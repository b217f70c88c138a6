"""``repoversion materialize REF [--lockfile FILE]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json
from repoversion.errors import InvalidInput, RepoversionError
from repoversion.serving.fetch import Fetcher
from repoversion.serving.materialize import Wanted, materialize, plan


def _read_lockfile(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError:
        raise InvalidInput(f"{path} is not a JSON lockfile.") from None


@click.command("materialize")
@click.argument("ref")
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Only the packages of this lockfile.",
)
@json_option
@pass_obj
def materialize_cmd(obj: Obj, ref: str, lockfile: Path | None, as_json: bool) -> None:
    """Download every file REF (or a lockfile) needs that is not stored yet."""
    ctx = obj.ctx
    lock = _read_lockfile(lockfile) if lockfile is not None else None
    index, wanted = plan(ctx, ref, lock)
    fetcher = Fetcher(ctx.settings, lambda: ctx.sessions, ctx.store)
    try:
        outcome = _run(fetcher, index.version, wanted, ctx.settings.download_concurrency, as_json)
    finally:
        fetcher.close()
    for failure in outcome.failed:
        click.echo(f"error: {failure['error']}", err=True)
    if as_json:
        print_json(outcome.to_json())
    else:
        click.echo(
            f"Repoversion {outcome.repoversion}: {outcome.wanted} files, "
            f"{outcome.downloaded} downloaded ({outcome.bytes} bytes), "
            f"{outcome.present} already stored, {len(outcome.failed)} failed."
        )
    if outcome.failed:
        raise RepoversionError(
            f"{len(outcome.failed)} of {outcome.wanted} files could not be downloaded."
        )


def _run(fetcher: Fetcher, version: str, wanted: list[Wanted], workers: int, quiet: bool):  # type: ignore[no-untyped-def]
    from repoversion.cli.common import progress

    with progress(sys.stderr.isatty() and not quiet) as report:
        return materialize(
            fetcher,
            version,
            wanted,
            concurrency=workers,
            progress=lambda done, total: report("materialize", done, total),
        )


COMMANDS = [materialize_cmd]
