"""The ``ostree_export`` rows: which debs are committed to ostree, and where a deb that is
not stored yet can be fetched from."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repoversion.db.models import Archive, OstreeExport, Package, Suite

#: ``in_()`` lists are cut to this many values (SQLite's limit on bound parameters)
_BATCH = 500


def _batches(values: Collection[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for i in range(0, len(items), _BATCH):
        yield items[i : i + _BATCH]


def export_rows(session: Session, shas: Collection[str]) -> dict[str, OstreeExport]:
    """The rows of the debs among ``shas`` that were exported, by sha256."""
    found: dict[str, OstreeExport] = {}
    for batch in _batches(shas):
        for row in session.scalars(select(OstreeExport).where(OstreeExport.sha256.in_(batch))):
            found[row.sha256] = row
    return found


def record_export(session: Session, values: dict[str, Any], now: datetime) -> None:
    """Add or replace the row of one exported deb (another worker may have added it: the
    same deb gives the same commits, so the values are the same).

    :param values: the columns of :class:`OstreeExport` but ``created``.
    """
    row = session.get(OstreeExport, values["sha256"])
    if row is None:
        session.add(OstreeExport(**values, created=now))
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()


def where_to_fetch(session: Session, shas: Collection[str]) -> dict[str, tuple[str, str, int, str]]:
    """Where each deb of ``shas`` can be downloaded: (archive, pool path, size, archive
    URL), from any version's packages of an archive still configured."""
    found: dict[str, tuple[str, str, int, str]] = {}
    for batch in _batches(shas):
        rows = session.execute(
            select(Package.sha256, Suite.archive, Package.filename, Package.size, Archive.url)
            .join(Suite, Suite.id == Package.suite_id)
            .join(Archive, Archive.name == Suite.archive)
            .where(Package.sha256.in_(batch), Package.kind == "deb")
        )
        for sha, archive, filename, size, url in rows:
            found.setdefault(sha, (archive, filename, size, url))
    return found


def exporting_archive(session: Session, name: str) -> bool:
    """Whether archive ``name`` is configured with ``ostree_export``."""
    return bool(session.scalar(select(Archive.ostree_export).where(Archive.name == name)))
