"""API tokens: created once, shown once, stored as SHA-256 digests.

Scopes: ``write`` may start syncs, exports and materialize jobs and move tags; ``admin``
may also change archives and tokens and run gc.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from repoversion.db.models import Token
from repoversion.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

SCOPES = ("write", "admin")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PREFIX = "rv_"


@dataclass(frozen=True)
class NewToken:
    name: str
    token: str
    scope: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, scope: str, now: datetime) -> NewToken:
    """Create a token; the secret is returned here and never again.

    :raises InvalidInput: bad name or scope.
    :raises Conflict: a token with that name exists.
    """
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(f"Token name {name!r} must be letters, digits, '.', '_' or '-'.")
    if scope not in SCOPES:
        raise InvalidInput(f"Token scope must be one of {', '.join(SCOPES)}, got {scope!r}.")
    if session.scalar(select(Token.id).where(Token.name == name)) is not None:
        raise Conflict(f"A token named {name!r} already exists.")
    secret = PREFIX + secrets.token_urlsafe(32)
    session.add(Token(name=name, token_hash=_digest(secret), scope=scope, created=now))
    session.flush()
    return NewToken(name=name, token=secret, scope=scope)


def list_tokens(session: Session) -> list[Token]:
    return list(session.scalars(select(Token).order_by(Token.name)))


def revoke_token(session: Session, name: str) -> None:
    """:raises NotFound: no token with that name."""
    if session.execute(delete(Token).where(Token.name == name)).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"No token named {name!r}.")


def authorize(session: Session, header: str | None, need: str, now: datetime) -> Token:
    """Check an ``Authorization: Bearer …`` header against the scope ``need``.

    :raises Unauthorized: no or unknown token.
    :raises Forbidden: the token's scope is too small.
    """
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("This request needs an `Authorization: Bearer <token>` header.")
    token = session.scalar(select(Token).where(Token.token_hash == _digest(header[7:].strip())))
    if token is None:
        raise Unauthorized("The token is not valid.")
    if need == "admin" and token.scope != "admin":
        raise Forbidden(f"Token {token.name!r} has scope {token.scope!r}; this needs 'admin'.")
    token.last_used = now
    return token
