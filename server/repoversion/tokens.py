"""API tokens: created once, shown once, stored as SHA-256 digests.

Scopes: ``write`` may start syncs, move tags and store lockfiles; ``admin`` may also
change archives and tokens. Revoking deletes the digest, so a revoked
token is refused like an unknown one. Each accepted token records its last use (to the
minute: recording every request would turn each authenticated read into a write).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from repoversion.db.models import Token
from repoversion.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from repoversion.timefmt import utc

SCOPES = ("write", "admin")
#: what a request may need: ``read`` (any valid token) or a scope
NEEDS = ("read", *SCOPES)
#: a last use older than this is recorded again
LAST_USE_STEP = timedelta(minutes=1)
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
    """Check an ``Authorization: Bearer …`` header against ``need``, recording the use.

    :param need: ``read`` (any valid token), ``write`` (any scope) or ``admin``.
    :param now: the instant recorded as the token's last use.
    :raises Unauthorized: no header, another scheme, or an unknown (or revoked) token.
    :raises Forbidden: the token's scope is too small.
    """
    if need not in NEEDS:
        raise ValueError(f"unknown need {need!r}")
    # RFC 7235: the scheme is case-insensitive
    scheme, _, secret = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("This request needs an `Authorization: Bearer <token>` header.")
    token = session.scalar(select(Token).where(Token.token_hash == _digest(secret.strip())))
    if token is None:
        raise Unauthorized("The token is not valid (unknown or revoked).")
    if need == "admin" and token.scope != "admin":
        raise Forbidden(f"Token {token.name!r} has scope {token.scope!r}; this needs 'admin'.")
    if token.last_used is None or utc(token.last_used) <= now - LAST_USE_STEP:
        token.last_used = now
    return token
