"""``repoversion versions``: kept repoversions, newest first."""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.db.session import transaction
from repoversion.versions import list_versions


@click.command()
@json_option
@pass_obj
def versions(obj: Obj, as_json: bool) -> None:
    """List repoversions, newest first."""
    with transaction(obj.ctx.sessions) as session:
        rows = list_versions(session)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo("No repoversion yet; run `repoversion sync`.", err=True)
    else:
        print_table(
            [{**r, "parent": r["parent"] or "-"} for r in rows],
            ["repoversion", "created", "bump", "parent", "state"],
        )


COMMANDS = [versions]
