"""Tokens, their checks, and the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction

Progress = Callable[[str, int, int], None]


def create_token(ctx: Context, name: str, scope: str) -> dict[str, str]:
    """A new token, ``{"name", "token", "scope"}``: the secret is shown this once."""
    from repoversion import tokens

    with transaction(ctx.sessions) as s:
        new = tokens.create_token(s, name, scope, ctx.settings.clock())
    return {"name": new.name, "token": new.token, "scope": new.scope}


def list_tokens(ctx: Context) -> list[dict[str, Any]]:
    """Every token, never its secret."""
    from repoversion import tokens
    from repoversion.timefmt import iso

    with transaction(ctx.sessions) as s:
        return [
            {
                "name": t.name,
                "scope": t.scope,
                "created": iso(t.created),
                "last_used": iso(t.last_used) if t.last_used else None,
            }
            for t in tokens.list_tokens(s)
        ]


def revoke_token(ctx: Context, name: str) -> None:
    """Revoke token ``name``."""
    from repoversion import tokens

    with transaction(ctx.sessions) as s:
        tokens.revoke_token(s, name)


def authorize(ctx: Context, header: str | None, need: str) -> str:
    """The name of the token an ``Authorization`` header carries, checked for ``need``
    (``read``, ``write`` or ``admin``); its last use is recorded.

    :raises Unauthorized: no header or an unknown (or revoked) token.
    :raises Forbidden: the token's scope is too small.
    """
    from repoversion import tokens

    with transaction(ctx.sessions) as s:
        return tokens.authorize(s, header, need, ctx.settings.clock()).name


def upgrade_schema(ctx: Context) -> None:
    """Apply pending migrations (alembic)."""
    from repoversion.db.session import upgrade

    upgrade(ctx.settings.database_url)
