"""Refs to repoversions: ``X.Y.Z``, tags (``latest`` built in) and timestamps; listing.

A timestamp ``YYYYMMDDTHHMMSSZ`` names the newest version created at or before the end
of that second, so the ``created`` time that ``versions`` prints names that version.

A ref is checked before any query (:func:`check_ref`): garbage from a URL, such as a NUL
byte that PostgreSQL cannot even receive, is "not found" without touching the database.

>>> check_ref("1.4.0"), check_ref("stable"), check_ref("20261125T210000Z")
('1.4.0', 'stable', '20261125T210000Z')
>>> check_ref("stable\\x00")
Traceback (most recent call last):
...
repoversion.errors.NotFound: No repoversion, tag or timestamp 'stable\\x00'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from repoversion.db.models import Repoversion
from repoversion.errors import Gone, NotFound
from repoversion.timefmt import iso
from repoversion.versions.numbering import TAG_RE, TIMESTAMP_RE, VERSION_RE

#: a second's last microsecond: a timestamp names everything created within its second
END_OF_SECOND = timedelta(microseconds=999_999)
#: no ref is longer (a tag has at most 100 characters; versions and timestamps are shorter)
MAX_REF = 100

if TYPE_CHECKING:
    from repoversion.storage.base import BlobStore


def version_json(v: Repoversion, parent: str | None) -> dict[str, Any]:
    return {
        "repoversion": v.version,
        "state": v.state,
        "created": iso(v.created),
        "bump": v.bump,
        "parent": parent,
    }


def list_versions(
    session: Session, limit: int | None = None, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Kept (not dropped) versions, newest first."""
    return [item for _, item in _kept_versions(session, limit, before_id)]


def versions_page(
    session: Session, limit: int, before_id: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """At most ``limit`` kept versions older than ``before_id`` (all when None), newest
    first, and the id the next page starts before (None on the last page)."""
    rows = _kept_versions(session, limit + 1, before_id)
    more = len(rows) > limit
    return [item for _, item in rows[:limit]], (rows[limit - 1][0] if more else None)


def _kept_versions(
    session: Session, limit: int | None, before_id: int | None
) -> list[tuple[int, dict[str, Any]]]:
    parent = Repoversion.__table__.alias("parent")
    query = (
        select(Repoversion, parent.c.version)
        .outerjoin(parent, parent.c.id == Repoversion.parent_id)
        .where(Repoversion.dropped.is_(None))
        .order_by(Repoversion.id.desc())
    )
    if before_id is not None:
        query = query.where(Repoversion.id < before_id)
    if limit is not None:
        query = query.limit(limit)
    return [(v.id, version_json(v, p)) for v, p in session.execute(query)]


def count_kept(session: Session) -> int:
    """How many repoversions are kept (not dropped)."""
    query = select(func.count(Repoversion.id)).where(Repoversion.dropped.is_(None))
    return int(session.scalar(query) or 0)


def latest(session: Session) -> Repoversion | None:
    """The newest committed repoversion (dropped or not: it owns the open membership rows)."""
    return session.scalar(select(Repoversion).order_by(Repoversion.id.desc()).limit(1))


def newest_kept(session: Session) -> Repoversion | None:
    """What ``latest`` means: the newest repoversion not dropped (None before the first)."""
    return session.scalar(
        select(Repoversion)
        .where(Repoversion.dropped.is_(None))
        .order_by(Repoversion.id.desc())
        .limit(1)
    )


def check_ref(ref: str) -> str:
    """``ref`` if it has the form of a ref: ``X.Y.Z``, a timestamp or a tag name.

    :param ref: as the user gave it.
    :raises NotFound: it cannot name anything (too long, not ASCII, another form).
    """
    if (
        len(ref) <= MAX_REF
        and ref.isascii()
        and (VERSION_RE.fullmatch(ref) or TIMESTAMP_RE.fullmatch(ref) or TAG_RE.fullmatch(ref))
    ):
        return ref
    raise NotFound(f"No repoversion, tag or timestamp {ref!r}.")


def resolve_ref(session: Session, ref: str) -> Repoversion:
    """A repoversion from ``X.Y.Z``, a tag (``latest`` built in) or a timestamp
    (``YYYYMMDDTHHMMSSZ``, or ``YYYY-MM-DDTHH:MM:SSZ`` as ``versions`` prints it).

    :raises NotFound: nothing matches, or ``ref`` is not a ref (see :func:`check_ref`).
    :raises Gone: the version was dropped.
    """
    from repoversion.config import parse_instant
    from repoversion.db.models import Tag

    check_ref(ref)
    version: Repoversion | None
    if VERSION_RE.fullmatch(ref):
        version = session.scalar(select(Repoversion).where(Repoversion.version == ref))
        if version is None:
            raise NotFound(f"No repoversion {ref}.")
    elif TIMESTAMP_RE.fullmatch(ref):
        try:
            instant = parse_instant(ref)
        except ValueError:
            raise NotFound(f"{ref} is not a valid timestamp.") from None
        version = session.scalar(
            select(Repoversion)
            # the whole second: ``versions`` prints ``created`` without its fraction (adding
            # a second instead would overflow on 99991231T235959Z)
            .where(Repoversion.created <= instant + END_OF_SECOND, Repoversion.dropped.is_(None))
            .order_by(Repoversion.id.desc())
            .limit(1)
        )
        if version is None:
            raise NotFound(f"No repoversion was created at or before {ref}.")
    elif ref == "latest":
        version = newest_kept(session)
        if version is None:
            raise NotFound("No repoversion yet; run `repoversion sync`.")
    else:
        tag = session.get(Tag, ref)
        if tag is None:
            raise NotFound(f"No repoversion, tag or timestamp {ref!r}.")
        version = session.get(Repoversion, tag.repoversion_id)
        assert version is not None
    if version.dropped is not None:
        raise Gone(f"Repoversion {version.version} was deleted.")
    return version


def read_index(store: BlobStore, version: Repoversion) -> dict[str, Any]:
    """The version's ``index.json`` (stored as a blob when it was committed)."""
    data: dict[str, Any] = json.loads(store.read_bytes(version.index_sha256))
    return data


@dataclass(frozen=True)
class Resolved:
    """A ref resolved for serving.

    :ivar version: the repoversion it names.
    :ivar immutable: True only for a literal ``X.Y.Z`` (cache forever); tags, ``latest``
        and timestamps can change meaning.
    :ivar release_date: the Date a generated Release carries under this ref: the version's
        creation, or for a tag the moment it last moved (so apt follows a tag moved back).
    """

    version: Repoversion
    immutable: bool
    release_date: datetime


def resolve(session: Session, ref: str) -> Resolved:
    """Like :func:`resolve_ref`, with what serving needs to know about the ref.

    :raises NotFound: nothing matches.
    :raises Gone: the version was dropped.
    """
    from repoversion.db.models import Tag
    from repoversion.timefmt import utc

    version = resolve_ref(session, ref)
    date = utc(version.created)
    if not VERSION_RE.fullmatch(ref) and not TIMESTAMP_RE.fullmatch(ref) and ref != "latest":
        tag = session.get(Tag, ref)
        if tag is not None:
            date = max(utc(tag.moved), date)
    return Resolved(version, bool(VERSION_RE.fullmatch(ref)), date)
