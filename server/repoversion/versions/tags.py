"""Tags: mutable names for repoversions, with their history kept.

A tag name matches ``[a-z][a-z0-9._-]*`` (so it can never be read as a version ``X.Y.Z``
nor as a timestamp ``YYYYMMDDTHHMMSSZ``). ``latest`` is built in: it always means the
newest kept repoversion and cannot be set or deleted.

Every move and every deletion is recorded as a :class:`~repoversion.db.models.TagEvent`.
A tag's ``moved`` time dates the signed Release served under it
(:func:`repoversion.versions.resolve`), so apt follows a tag that was moved back to an
older version: the Release it sees is newer than the one it has.

Moving a tag to the version it already names changes nothing (no event, same ``moved``),
so re-running an automation that sets tags does not make apt clients download again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from repoversion.db.models import Repoversion, Tag, TagEvent
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.timefmt import iso, utc
from repoversion.versions.numbering import TAG_RE, TIMESTAMP_RE, VERSION_RE
from repoversion.versions.refs import newest_kept, resolve_ref

MAX_NAME = 100
LATEST = "latest"


@dataclass(frozen=True)
class TagInfo:
    """A tag as listed.

    :ivar name: the tag's name.
    :ivar repoversion: the ``X.Y.Z`` it names now.
    :ivar moved: when it last moved (for ``latest``: when the newest version was made).
    :ivar builtin: True for ``latest``.
    """

    name: str
    repoversion: str
    moved: datetime
    builtin: bool = False

    def to_json(self) -> dict[str, Any]:
        """``{"name", "repoversion", "moved"}`` as ``tags --json`` and the API print it."""
        return {"name": self.name, "repoversion": self.repoversion, "moved": iso(self.moved)}


@dataclass(frozen=True)
class TagMove:
    """What :func:`set_tag` did.

    :ivar tag: the tag after the call.
    :ivar previous: the version it named before (None when it is new).
    :ivar changed: False when it already named that version (nothing was written).
    """

    tag: TagInfo
    previous: str | None
    changed: bool


def validate_name(name: str) -> str:
    """Check a tag name for setting it.

    :raises InvalidInput: not ``[a-z][a-z0-9._-]*``, too long, a version, or ``latest``.
    """
    if name == LATEST:
        raise InvalidInput("Tag 'latest' is built in (always the newest version); it is read-only.")
    if VERSION_RE.fullmatch(name) or TIMESTAMP_RE.fullmatch(name):
        raise InvalidInput(f"Tag name {name!r} would read as a version or a timestamp.")
    if not TAG_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidInput(
            f"Tag name {name!r} must match [a-z][a-z0-9._-]* (at most {MAX_NAME} characters)."
        )
    return name


def _info(tag: Tag, version: str) -> TagInfo:
    return TagInfo(tag.name, version, utc(tag.moved))


def set_tag(session: Session, name: str, ref: str, now: datetime) -> TagMove:
    """Point tag ``name`` at the version ``ref`` names (a version, a tag, ``latest`` or a
    timestamp), creating the tag if needed, and record the move.

    :param now: the instant recorded as the move (``settings.clock()``).
    :raises InvalidInput: the name is not a valid tag name.
    :raises NotFound: ``ref`` names nothing.
    :raises Gone: ``ref`` names a deleted version.
    :raises Conflict: another writer created the same tag at the same moment.
    """
    validate_name(name)
    target = resolve_ref(session, ref)
    tag = session.get(Tag, name, with_for_update=True)
    previous: str | None = None
    if tag is not None:
        old = session.get(Repoversion, tag.repoversion_id)
        previous = old.version if old is not None else None
        if tag.repoversion_id == target.id:
            return TagMove(_info(tag, target.version), previous, changed=False)
        tag.repoversion_id = target.id
        tag.moved = now
    else:
        tag = Tag(name=name, repoversion_id=target.id, moved=now)
        session.add(tag)
    session.add(TagEvent(tag=name, repoversion_id=target.id, at=now))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"Tag {name!r} was changed at the same moment; try again.") from None
    return TagMove(_info(tag, target.version), previous, changed=True)


def delete_tag(session: Session, name: str, now: datetime) -> str:
    """Delete tag ``name``; its history keeps a deletion event.

    :returns: the version it named.
    :raises InvalidInput: ``name`` is ``latest``.
    :raises NotFound: no such tag.
    """
    if name == LATEST:
        raise InvalidInput("Tag 'latest' is built in (always the newest version); it is read-only.")
    tag = session.get(Tag, name, with_for_update=True)
    if tag is None:
        raise NotFound(f"No tag named {name!r}.")
    version = session.get(Repoversion, tag.repoversion_id)
    session.delete(tag)
    session.add(TagEvent(tag=name, repoversion_id=None, at=now))
    session.flush()
    return version.version if version is not None else "?"


def latest_info(session: Session) -> TagInfo | None:
    """The built-in ``latest``: the newest kept version, or None before the first sync."""
    newest = newest_kept(session)
    if newest is None:
        return None
    return TagInfo(LATEST, newest.version, utc(newest.created), builtin=True)


def list_tags(session: Session) -> list[TagInfo]:
    """Every tag with its current version and when it moved: ``latest`` first (once a
    version exists), then named tags by name."""
    out: list[TagInfo] = []
    latest = latest_info(session)
    if latest is not None:
        out.append(latest)
    rows = session.execute(
        select(Tag, Repoversion.version)
        .join(Repoversion, Repoversion.id == Tag.repoversion_id)
        .order_by(Tag.name)
    )
    out.extend(_info(tag, version) for tag, version in rows)
    return out


def tag_history(session: Session, name: str) -> list[dict[str, Any]]:
    """Every move of tag ``name``, oldest first: ``{"repoversion": "X.Y.Z" | None, "at"}``
    (``None`` marks a deletion). Deleted tags keep their history.

    :raises InvalidInput: ``name`` is ``latest`` (its history is ``repoversion versions``).
    :raises NotFound: the tag never existed.
    """
    if name == LATEST:
        raise InvalidInput(
            "Tag 'latest' is built in; its history is the list of versions "
            "(`repoversion versions`)."
        )
    rows = session.execute(
        select(TagEvent.at, Repoversion.version)
        .outerjoin(Repoversion, Repoversion.id == TagEvent.repoversion_id)
        .where(TagEvent.tag == name)
        .order_by(TagEvent.id)
    ).all()
    if not rows:
        raise NotFound(f"No tag named {name!r} has ever existed.")
    return [{"repoversion": version, "at": iso(at)} for at, version in rows]
