"""``repoversion token create|list|revoke``."""

from __future__ import annotations

import click

from repoversion import actions
from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.tokens import SCOPES


@click.group()
def token() -> None:
    """API tokens (stored hashed)."""


@token.command("create")
@click.argument("name")
@click.option("--scope", type=click.Choice(SCOPES), default="write", show_default=True)
@json_option
@pass_obj
def create(obj: Obj, name: str, scope: str, as_json: bool) -> None:
    """Create a token and print it once."""
    new = actions.create_token(obj.ctx, name, scope)
    if as_json:
        print_json(new)
    else:
        click.echo(new["token"])
        click.echo(f"Token {name!r} ({scope}) created; it is not shown again.", err=True)


@token.command("list")
@json_option
@pass_obj
def list_(obj: Obj, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    rows = actions.list_tokens(obj.ctx)
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["name", "scope", "created", "last_used"])


@token.command("revoke")
@click.argument("name")
@pass_obj
def revoke(obj: Obj, name: str) -> None:
    """Revoke a token."""
    actions.revoke_token(obj.ctx, name)
    click.echo(f"Token {name!r} revoked.", err=True)


COMMANDS = [token]
