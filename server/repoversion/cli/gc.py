"""``repoversion gc [--keep N] [--keep-since DATE] [--grace DURATION] [--dry-run] [--json]``."""

from __future__ import annotations

import sys
from typing import Any

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress


@click.command()
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Keep the newest N repoversions.",
)
@click.option(
    "--keep-since",
    default=None,
    metavar="DATE",
    help="Keep the repoversions created at or after DATE (2026-01-31 or 2026-01-31T12:00:00Z).",
)
@click.option(
    "--grace",
    default=None,
    metavar="DURATION",
    help="Spare unreferenced blobs written within DURATION (default 1h; 0 frees them now).",
)
@click.option(
    "--dry-run", is_flag=True, help="Report what would be dropped and freed; change nothing."
)
@json_option
@pass_obj
def gc(
    obj: Obj,
    keep: int | None,
    keep_since: str | None,
    grace: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Drop repoversions not kept (tagged ones always are) and free unreferenced blobs."""
    from repoversion.actions.gc import gc as collect

    def waiting() -> None:
        click.echo("A sync or another gc is running; waiting for it to finish.", err=True)

    with progress(sys.stderr.isatty() and not as_json) as report:

        def shown(stage: str, done: int, total: int) -> None:
            if stage != "freed bytes":  # the job's progress counter, not a bar
                report(stage, done, total)

        result = collect(
            obj.ctx,
            keep=keep,
            keep_since=keep_since,
            grace=grace,
            dry_run=dry_run,
            progress=shown,
            waiting=waiting,
        )
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(result)
    else:
        _print_summary(result)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _print_summary(result: dict[str, Any]) -> None:
    dry = result["dry_run"]
    dropped, freed, spared = result["dropped"], result["freed"], result["spared"]
    if dropped:
        verb = "Would drop" if dry else "Dropped"
        names = ", ".join(dropped)
        click.echo(f"{verb} {_n(len(dropped), 'repoversion')} ({names}); {result['kept']} kept.")
    else:
        click.echo(f"No repoversion to drop; {result['kept']} kept.")
    verb = "Would free" if dry else "Freed"
    click.echo(f"{verb} {_n(freed['blobs'], 'blob')} ({_n(freed['bytes'], 'byte')}).")
    if spared["blobs"]:
        click.echo(
            f"Spared {_n(spared['blobs'], 'unreferenced blob')} ({_n(spared['bytes'], 'byte')}) "
            f"written within the grace ({result['grace']})."
        )
    if result["ostree"]["exports"]:
        click.echo(f"{verb} {_n(result['ostree']['exports'], 'ostree export')}.")


COMMANDS = [gc]
