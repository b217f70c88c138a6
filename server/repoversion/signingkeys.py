"""The server's signing keys as the shared database knows them (table ``signing_key``).

The secret key lives in a file (setting ``signing_key``); the database holds the public
part of every key the server has signed with, so every node serves the same keyring at
``/keys/``: the current key (the one in the file) and each earlier key not retired yet.
``key rotate`` records a new key before it signs anything; ``key retire`` ends the overlap.
A key is recorded the first time a home uses it (``init``, a scrape of ``/keys/``, a
rotation), so homes created before this table existed get theirs recorded too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from repoversion.db.models import SigningKey


@dataclass(frozen=True)
class PublicKey:
    """One served key: its fingerprint and armored public part."""

    fingerprint: str
    armored: bytes


def record(session: Session, fingerprint: str, armored: bytes, now: datetime) -> bool:
    """Record a key's public part unless it is recorded already (by this node or by
    another at the same moment: ``INSERT … ON CONFLICT DO NOTHING``).

    :returns: whether it was new.
    """
    if session.get(SigningKey, fingerprint) is not None:
        return False
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"fingerprint": fingerprint, "public": armored.decode(), "created": now}
    statement = dialect.insert(SigningKey).values(**values).on_conflict_do_nothing()
    result: Any = session.execute(statement)
    return bool(result.rowcount == 1)


def served(session: Session, current: str) -> list[PublicKey]:
    """The keys ``/keys/`` serves: those not retired, and the current one whatever its
    row says; oldest first.

    :param current: the fingerprint of the key in the signing key file.
    """
    query = (
        select(SigningKey)
        .where(or_(SigningKey.retired.is_(None), SigningKey.fingerprint == current))
        .order_by(SigningKey.created, SigningKey.fingerprint)
    )
    return [PublicKey(k.fingerprint, k.public.encode()) for k in session.scalars(query)]


def retire_others(session: Session, current: str, now: datetime) -> list[str]:
    """Stop serving every key but ``current``.

    :returns: the fingerprints retired now.
    """
    query = select(SigningKey.fingerprint).where(
        SigningKey.retired.is_(None), SigningKey.fingerprint != current
    )
    retired = sorted(session.scalars(query))
    if retired:
        session.execute(
            update(SigningKey)
            .where(SigningKey.fingerprint.in_(retired))
            .values(retired=now)
            .execution_options(synchronize_session=False)
        )
    return retired
