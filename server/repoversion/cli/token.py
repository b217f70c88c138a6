"""``repoversion token create|list|revoke``."""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.db.session import transaction
from repoversion.timefmt import iso
from repoversion.tokens import SCOPES, create_token, list_tokens, revoke_token


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
    with transaction(obj.ctx.sessions) as session:
        new = create_token(session, name, scope, obj.settings.clock())
    if as_json:
        print_json({"name": new.name, "token": new.token, "scope": new.scope})
    else:
        click.echo(new.token)
        click.echo(f"Token {new.name!r} ({new.scope}) created; it is not shown again.", err=True)


@token.command("list")
@json_option
@pass_obj
def list_(obj: Obj, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    with transaction(obj.ctx.sessions) as session:
        rows = [
            {
                "name": t.name,
                "scope": t.scope,
                "created": iso(t.created),
                "last_used": iso(t.last_used) if t.last_used else None,
            }
            for t in list_tokens(session)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(rows, ["name", "scope", "created", "last_used"])


@token.command("revoke")
@click.argument("name")
@pass_obj
def revoke(obj: Obj, name: str) -> None:
    """Revoke a token."""
    with transaction(obj.ctx.sessions) as session:
        revoke_token(session, name)
    click.echo(f"Token {name!r} revoked.", err=True)


COMMANDS = [token]
