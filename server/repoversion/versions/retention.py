"""Dropping repoversions, the rows only they held, and what the kept ones still need.

A dropped version keeps its ``repoversion`` row with ``dropped`` set: its number is never
given again, and a ref to it answers 410 (:mod:`.refs`). Its membership goes: a row of a
range table (``package``, ``index_file``, ``suite_release``) is *needed* while some kept
version lies in its range, ``added <= id < removed`` (:func:`needed`, the predicate of
:func:`.contents.member_of` joined to the kept versions); a row no kept version holds is
deleted, a source package's ``source_file`` rows with it. The newest version is never
dropped, so every open row stays: they are what the next sync starts from.

Each question also takes the ids about to be dropped (``drops``), so a dry run asks it
without writing and gets the numbers the real run gets.

>>> from datetime import UTC, datetime
>>> day = lambda n: datetime(2026, 1, n, tzinfo=UTC)
>>> versions = [(1, day(1)), (2, day(2)), (3, day(3)), (4, day(4)), (5, day(5))]
>>> choose(versions, tagged={1}, keep=2, since=None)
[2, 3]
>>> choose(versions, tagged=set(), keep=None, since=day(3))
[1, 2]
>>> choose(versions, tagged=set(), keep=1, since=day(4))   # either rule keeps
[1, 2, 3]
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from repoversion.db.models import (
    Archive,
    IndexFile,
    Package,
    Repoversion,
    SourceFile,
    Suite,
    SuiteRelease,
    Tag,
)
from repoversion.errors import Conflict, NotFound
from repoversion.storage.base import BlobStore
from repoversion.timefmt import utc
from repoversion.versions.contents import RangeTable, member_of

#: ids in one ``IN (…)``
CHUNK = 500
#: a SHA-256 in a Release's text (a SHA512 is longer, so it never matches)
_DIGEST = re.compile(rb"(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])")


def choose(
    versions: Sequence[tuple[int, datetime]],
    tagged: Collection[int],
    keep: int | None,
    since: datetime | None,
) -> list[int]:
    """The ids of the versions to drop, oldest first.

    :param versions: (id, created) of every kept version.
    :param tagged: ids a tag points at: always kept, as is the newest version.
    :param keep: keep the newest ``keep`` versions.
    :param since: keep the versions created at or after ``since``.
    With neither rule nothing is dropped; with both, a version either keeps is kept.
    """
    if keep is None and since is None:
        return []
    newest_first = sorted(versions, reverse=True)
    kept = set(tagged) | {vid for vid, _ in newest_first[:1]}
    if keep is not None:
        kept.update(vid for vid, _ in newest_first[:keep])
    if since is not None:
        kept.update(vid for vid, created in newest_first if created >= since)
    return sorted(vid for vid, _ in newest_first if vid not in kept)


def to_drop(session: Session, keep: int | None, since: datetime | None) -> list[Repoversion]:
    """The kept versions that ``keep`` and ``since`` let go (see :func:`choose`)."""
    rows = session.execute(
        select(Repoversion.id, Repoversion.created).where(Repoversion.dropped.is_(None))
    ).all()
    tagged = set(session.scalars(select(Tag.repoversion_id)))
    ids = choose([(vid, utc(created)) for vid, created in rows], tagged, keep, since)
    found: list[Repoversion] = []
    for i in range(0, len(ids), CHUNK):
        found += session.scalars(select(Repoversion).where(Repoversion.id.in_(ids[i : i + CHUNK])))
    return sorted(found, key=lambda v: v.id)


def kept(drops: Collection[int] = ()) -> ColumnElement[bool]:
    """Versions kept once ``drops`` are dropped."""
    condition: ColumnElement[bool] = Repoversion.dropped.is_(None)
    if drops:
        condition = and_(condition, Repoversion.id.not_in(sorted(drops)))
    return condition


def needed(table: RangeTable, drops: Collection[int] = ()) -> ColumnElement[bool]:
    """Rows of ``table`` that some kept version holds (once ``drops`` are dropped).

    An open row is: the newest version holds it and is never dropped. A closed one is
    while a kept version lies in its range; ``id < removed`` repeats a bound of
    :func:`.contents.member_of` so that the index on ``repoversion.id`` is walked over
    the row's range only.
    """
    in_range = (
        select(Repoversion.id)
        .where(kept(drops), member_of(table, Repoversion.id), Repoversion.id < table.removed)
        .correlate_except(Repoversion)
    )
    return or_(table.removed.is_(None), exists(in_range))


def _prunable(table: RangeTable, drops: Collection[int]) -> ColumnElement[bool]:
    return and_(table.removed.is_not(None), ~needed(table, drops))


def drop(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Mark versions ``ids`` dropped at ``now``.

    :raises Conflict: one of them is the newest version (whose open rows the next sync
        starts from); :func:`choose` never picks it.
    """
    newest = session.scalar(select(func.max(Repoversion.id)))
    if newest in ids:
        raise Conflict("The newest repoversion cannot be dropped.")
    for i in range(0, len(ids), CHUNK):
        session.execute(
            update(Repoversion)
            .where(Repoversion.id.in_(list(ids[i : i + CHUNK])), Repoversion.dropped.is_(None))
            .values(dropped=now)
            .execution_options(synchronize_session=False)
        )


def _sources_of(packages: ColumnElement[bool]) -> ColumnElement[bool]:
    return SourceFile.package_id.in_(select(Package.id).where(packages))


def prunable_rows(session: Session, drops: Collection[int] = ()) -> dict[str, int]:
    """How many rows of each table no kept version holds (once ``drops`` are dropped)."""
    counts = {
        "source_file": _count(
            session, select(SourceFile.id), _sources_of(_prunable(Package, drops))
        )
    }
    for name, table in _RANGE_TABLES:
        counts[name] = _count(session, select(table.id), _prunable(table, drops))
    return counts


def prune_rows(session: Session) -> dict[str, int]:
    """Delete the rows no kept version holds; returns how many of each table."""
    counts = {}
    result: Any = session.execute(
        delete(SourceFile)
        .where(_sources_of(_prunable(Package, ())))
        .execution_options(synchronize_session=False)
    )
    counts["source_file"] = int(result.rowcount or 0)
    for name, table in _RANGE_TABLES:
        result = session.execute(
            delete(table).where(_prunable(table, ())).execution_options(synchronize_session=False)
        )
        counts[name] = int(result.rowcount or 0)
    return counts


_RANGE_TABLES: list[tuple[str, RangeTable]] = [
    ("package", Package),
    ("index_file", IndexFile),
    ("suite_release", SuiteRelease),
]


def _count(session: Session, query: Select[Any], where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.where(where).subquery())) or 0)


def dropped_ids(session: Session, drops: Collection[int] = ()) -> set[int]:
    """Every version dropped (once ``drops`` are)."""
    return set(session.scalars(select(Repoversion.id).where(~kept(drops))))


def live_blobs(session: Session, store: BlobStore, drops: Collection[int] = ()) -> set[str]:
    """Every blob a kept version needs (once ``drops`` are dropped): its ``index.json``,
    its pool files (binary and source), the index files it serves, upstream's signed
    Release and, for a ``verbatim`` archive, every file that Release lists (fetched
    through on demand)."""
    live: set[str] = set(session.scalars(select(Repoversion.index_sha256).where(kept(drops))))
    live.update(session.scalars(select(Package.sha256).where(needed(Package, drops)).distinct()))
    live.update(
        session.scalars(
            select(SourceFile.sha256)
            .join(Package, Package.id == SourceFile.package_id)
            .where(needed(Package, drops))
            .distinct()
        )
    )
    live.update(
        session.scalars(select(IndexFile.sha256).where(needed(IndexFile, drops)).distinct())
    )
    verbatim: set[str] = set()
    rows = session.execute(
        select(SuiteRelease.sha256, SuiteRelease.fields, Archive.mode)
        .join(Suite, Suite.id == SuiteRelease.suite_id)
        .outerjoin(Archive, Archive.name == Suite.archive)
        .where(needed(SuiteRelease, drops))
    )
    for sha, fields, mode in rows:
        live.add(sha)
        upstream = (fields or {}).get("upstream", {})
        live.update(ref["sha256"] for ref in upstream.values())
        if mode == "verbatim":
            verbatim.update(
                upstream[n]["sha256"] for n in ("InRelease", "Release") if n in upstream
            )
    live.update(listed_in(store, verbatim))
    return live


def listed_in(store: BlobStore, releases: Iterable[str]) -> set[str]:
    """The SHA-256 digests the stored Release files ``releases`` list."""
    found: set[str] = set()
    for sha in releases:
        try:
            data = store.read_bytes(sha)
        except NotFound:
            continue
        found.update(m.decode() for m in _DIGEST.findall(data))
    return found
