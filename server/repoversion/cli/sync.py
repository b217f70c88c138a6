"""``repoversion sync``."""

from __future__ import annotations

import sys

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress
from repoversion.versions.numbering import BUMPS


@click.command()
@click.option(
    "--bump",
    type=click.Choice(BUMPS),
    default=None,
    help="Raise (never lower) the computed version bump.",
)
@click.option(
    "--allow-releaseinfo-change",
    "allow_change",
    metavar="ARCHIVE/SUITE",
    multiple=True,
    help="Accept a changed Release Codename for this suite (repeatable), as apt's option does.",
)
@json_option
@pass_obj
def sync(obj: Obj, bump: str | None, allow_change: tuple[str, ...], as_json: bool) -> None:
    """Mirror every archive; commit a new repoversion if anything changed."""
    from repoversion.actions import sync as run_sync

    with progress(sys.stderr.isatty() and not as_json) as report:
        result = run_sync(
            obj.ctx, bump=bump, progress=report, allow_releaseinfo_change=allow_change
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(result.to_json())
    elif result.new:
        c = result.changes
        click.echo(
            f"New repoversion {result.repoversion} ({result.bump}): {c['added']} added, "
            f"{c['removed']} removed, {c['upgraded']} upgraded, "
            f"{c['downgraded']} downgraded."
        )
    elif result.repoversion:
        click.echo(f"Nothing changed; the newest repoversion is still {result.repoversion}.")
    else:
        click.echo("Nothing to mirror yet; add an archive with `repoversion archive add`.")


COMMANDS = [sync]
