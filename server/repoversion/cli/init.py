"""``repoversion init``: a home (settings file, schema, signing key)."""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.home import initialise


@click.command()
@click.option(
    "--from-system",
    is_flag=True,
    help="Add the archives this host's apt sources use (policy on_demand).",
)
@pass_obj
def init(obj: Obj, from_system: bool) -> None:
    """Create the home: settings file, database schema, signing key."""
    settings = obj.settings
    result = initialise(settings)
    verb = "Initialised" if result.created else "Checked"
    click.echo(f"{verb} {result.home} (signing key {result.fingerprint}).", err=True)
    click.echo(f"Public key: {result.public_asc} and {result.public_gpg}", err=True)
    if from_system:
        from repoversion.cli.archive import add_from_system

        add_from_system(obj)


COMMANDS = [init]
