"""``repoversion key rotate|retire``: a new signing key, and the end of the overlap."""

from __future__ import annotations

import click

from repoversion.actions.keys import KeyChange, retire_keys, rotate_key
from repoversion.cli.common import Obj, json_option, pass_obj, print_json


@click.group()
def key() -> None:
    """The signing key: rotate it, then retire the old one."""


@key.command("rotate")
@json_option
@pass_obj
def rotate(obj: Obj, as_json: bool) -> None:
    """Make a new signing key; /keys/ serves it and the old one until `key retire`."""
    change = rotate_key(obj.ctx)
    if as_json:
        print_json(change.to_json())
        return
    click.echo(change.current)
    click.echo(
        f"New signing key {change.current}; what is generated from now on is signed by it. "
        f"The old key {change.previous[0]} stays served until `repoversion key retire` "
        f"(its secret key is kept in {change.kept}).",
        err=True,
    )
    _served(change)


@key.command("retire")
@json_option
@pass_obj
def retire(obj: Obj, as_json: bool) -> None:
    """Stop serving every key but the current one (ends the overlap of `key rotate`)."""
    change = retire_keys(obj.ctx)
    if as_json:
        print_json(change.to_json())
        return
    if change.previous:
        click.echo(f"Retired {', '.join(change.previous)}.", err=True)
    else:
        click.echo(f"No key to retire: only {change.current} was served.", err=True)
    _served(change)


def _served(change: KeyChange) -> None:
    click.echo(f"/keys/repoversion.asc and .gpg serve: {', '.join(change.served)}.", err=True)


COMMANDS = [key]
