"""``repoversion fsck [--repair] [--jobs N] [--json]``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress

if TYPE_CHECKING:
    from repoversion.integrity.check import Report


@click.command()
@click.option(
    "--repair",
    is_flag=True,
    help="Fetch again what upstream still has, let generated files be generated again.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Blobs read (and downloaded) at once.",
)
@json_option
@pass_obj
def fsck(obj: Obj, repair: bool, jobs: int, as_json: bool) -> None:
    """Re-hash every blob and check the database's references against the store."""
    from repoversion.actions.fsck import fsck as run_fsck

    with progress(sys.stderr.isatty() and not as_json) as report:
        result = run_fsck(obj.ctx, repair=repair, threads=jobs, progress=report)
    _print_problems(result)
    if as_json:
        print_json(result.to_json())
    else:
        _print_summary(result)
    error = result.error()
    if error is not None:
        raise error


def _print_problems(result: Report) -> None:
    """One ``error:`` line per blob that is wrong (and, repairing, stays wrong)."""
    if result.repair:
        for verdict in result.unrepaired:
            click.echo(f"error: blob {verdict.sha256} cannot be repaired: {verdict.how}.", err=True)
        return
    for corrupt in result.scan.corrupt:
        click.echo(f"error: {result.corrupt_sentence(corrupt)}.", err=True)
    for sha256 in result.missing:
        click.echo(f"error: {result.missing_sentence(sha256)}.", err=True)


def _print_summary(result: Report) -> None:
    scan = result.scan
    click.echo(
        f"Checked {scan.blobs} blobs ({scan.bytes} bytes): {len(scan.corrupt)} corrupt, "
        f"{len(result.missing)} missing."
    )
    if not result.repair:
        return
    for corrupt in scan.corrupt:
        click.echo(f"{result.corrupt_sentence(corrupt)}.")
    for sha256 in result.missing:
        click.echo(f"{result.missing_sentence(sha256)}.")
    for verdict in result.verdicts:
        if verdict.repaired:
            click.echo(f"repaired {verdict.sha256}: {verdict.how}.")


COMMANDS = [fsck]
