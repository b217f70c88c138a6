"""``/tokens``: API tokens (an admin token manages them)."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import TOKEN, context, errors, needs, no_content, reply, resource
from repoversion.web.api.params import NamePath, TokenBody
from repoversion.web.api.schemas import NewToken, TokenList

bp = resource("tokens", "API tokens: stored hashed, shown once.")


@bp.get("/tokens", responses={200: TokenList}, security=TOKEN)
@needs("admin")
def list_tokens() -> Response:
    """Every token with its scope and last use, never its secret."""
    return reply(actions.list_tokens(context()))


@bp.post("/tokens", responses={201: NewToken, **errors(400, 409)}, security=TOKEN)
@needs("admin")
def create_token(body: TokenBody) -> Response:
    """Create a token; the answer holds its secret, this once."""
    return reply(actions.create_token(context(), body.name, body.scope), 201)


@bp.delete("/tokens/<name>", responses={204: None, **errors(404)}, security=TOKEN)
@needs("admin")
def revoke_token(path: NamePath) -> Response:
    """Revoke a token: it is refused from now on."""
    actions.revoke_token(context(), path.name)
    return no_content()
