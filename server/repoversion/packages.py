"""Read-side queries over range membership: packages of a version, diffs between versions."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from repoversion.db.models import Package, Repoversion, Suite


def member_of(vid: int) -> ColumnElement[bool]:
    """Rows of :class:`Package` (or any range table) that belong to repoversion ``vid``."""
    return and_(Package.added <= vid, or_(Package.removed.is_(None), Package.removed > vid))


COLUMNS = (
    Package.name,
    Package.version,
    Package.architecture,
    Suite.archive,
    Suite.name,
    Package.component,
    Package.filename,
    Package.sha256,
    Package.size,
    Package.kind,
)


def _row(r: Any) -> dict[str, Any]:
    return {
        "name": r[0],
        "version": r[1],
        "architecture": r[2],
        "archive": r[3],
        "suite": r[4],
        "component": r[5],
        "filename": r[6],
        "sha256": r[7],
        "size": r[8],
    }


def packages_of(
    session: Session,
    version: Repoversion,
    *,
    name: str | None = None,
    arch: str | None = None,
    archive: str | None = None,
    suite: str | None = None,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Packages (binary and source) of ``version``, ordered by row id, as (id, json)."""
    q = (
        select(Package.id, *COLUMNS)
        .join(Suite, Suite.id == Package.suite_id)
        .where(member_of(version.id))
        .order_by(Package.id)
    )
    if name is not None:
        q = q.where(Package.name == name)
    if arch is not None:
        q = q.where(Package.architecture == arch)
    if archive is not None:
        q = q.where(Suite.archive == archive)
    if suite is not None:
        q = q.where(Suite.name == suite)
    if after_id is not None:
        q = q.where(Package.id > after_id)
    if limit is not None:
        q = q.limit(limit)
    return [(r[0], _row(r[1:])) for r in session.execute(q)]


def diff_versions(session: Session, a: Repoversion, b: Repoversion) -> dict[str, Any]:
    """Packages added, removed, upgraded and downgraded going from ``a`` to ``b``.

    A package is (archive, suite, name, architecture); for several versions of one package
    in one suite the newest counts.
    """
    from repoversion.archive.debversion import version_cmp

    lo, hi = sorted((a.id, b.id))
    touched = (
        select(*COLUMNS, Package.added, Package.removed)
        .join(Suite, Suite.id == Package.suite_id)
        .where(
            or_(
                and_(Package.added > lo, Package.added <= hi),
                and_(Package.removed > lo, Package.removed <= hi),
            )
        )
    )
    before: dict[tuple[str, str, str, str, str], list[str]] = {}
    after: dict[tuple[str, str, str, str, str], list[str]] = {}
    info: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for r in session.execute(touched):
        key = (r[3], r[4], r[9], r[0], r[2])
        info.setdefault(key, {"name": r[0], "architecture": r[2], "archive": r[3], "suite": r[4]})
        added, removed = r[10], r[11]
        for vid, side in ((a.id, before), (b.id, after)):
            if added <= vid and (removed is None or removed > vid):
                side.setdefault(key, []).append(r[1])
    # keys only touched on one side may still exist unchanged on the other: look them up
    newest = functools.cmp_to_key(version_cmp)
    out: dict[str, Any] = {
        "from": a.version,
        "to": b.version,
        "added": [],
        "removed": [],
        "upgraded": [],
        "downgraded": [],
    }
    for key in sorted(info):
        old, new = before.get(key), after.get(key)
        if old is None:
            old = _current(session, key, a.id)
        if new is None:
            new = _current(session, key, b.id)
        if not old and new:
            out["added"].append({**info[key], "version": max(new, key=newest)})
        elif old and not new:
            out["removed"].append({**info[key], "version": max(old, key=newest)})
        elif old and new:
            o, n = max(old, key=newest), max(new, key=newest)
            cmp = version_cmp(n, o)
            if cmp > 0:
                out["upgraded"].append({**info[key], "from": o, "to": n})
            elif cmp < 0:
                out["downgraded"].append({**info[key], "from": o, "to": n})
    return out


def _current(session: Session, key: tuple[str, str, str, str, str], vid: int) -> list[str]:
    archive, suite, kind, name, arch = key
    return list(
        session.scalars(
            select(Package.version)
            .join(Suite, Suite.id == Package.suite_id)
            .where(
                Suite.archive == archive,
                Suite.name == suite,
                Package.kind == kind,
                Package.name == name,
                Package.architecture == arch,
                member_of(vid),
            )
        )
    )
