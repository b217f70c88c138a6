"""``repoversion tag NAME REF``, ``tag --delete NAME`` and ``tags [--json]``.

``tags`` reads the home, or with ``--server`` a remote server's API
(:mod:`repoversion.cli.reads`); ``tag`` changes the home.
"""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.cli.reads import reads, remote_options
from repoversion.errors import InvalidInput


@click.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--delete", is_flag=True, help="Delete the tag (its history is kept).")
@pass_obj
def tag(obj: Obj, name: str, ref: str | None, delete: bool) -> None:
    """Point tag NAME at REF (a version, a tag, latest or a timestamp), or delete it."""
    from repoversion import actions

    if delete and ref is not None:
        raise InvalidInput("`tag --delete NAME` takes no REF.")
    if not delete and ref is None:
        raise InvalidInput("Say which version the tag names: `repoversion tag NAME REF`.")
    if delete:
        was = actions.delete_tag(obj.ctx, name)
        message = f"Tag {name!r} deleted (it named {was})."
    else:
        assert ref is not None
        move = actions.set_tag(obj.ctx, name, ref)
        version = move.tag.repoversion
        if not move.changed:
            message = f"Tag {name!r} already names {version}; nothing changed."
        elif move.previous is None:
            message = f"Tag {name!r} created: {version}."
        else:
            message = f"Tag {name!r} moved: {move.previous} -> {version}."
    click.echo(message, err=True)


@click.command()
@click.option("--history", "history_of", metavar="NAME", default=None, help="Moves of one tag.")
@json_option
@remote_options
@pass_obj
def tags(
    obj: Obj, history_of: str | None, as_json: bool, server: str | None, token: str | None
) -> None:
    """List tags (latest included) with their version and when they moved."""
    source = reads(obj, server, token)
    rows = source.tag_history(history_of) if history_of is not None else source.tags()
    if as_json:
        print_json(rows)
    elif history_of is not None:
        print_table(
            [{**r, "repoversion": r["repoversion"] or "(deleted)"} for r in rows],
            ["at", "repoversion"],
        )
    elif not rows:
        click.echo("No repoversion yet, so no tag; run `repoversion sync`.", err=True)
    else:
        print_table(rows, ["name", "repoversion", "moved"])


COMMANDS = [tag, tags]
