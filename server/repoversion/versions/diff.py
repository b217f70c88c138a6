"""Packages added, removed, upgraded and downgraded between two repoversions.

A package is (archive, suite, kind, name, architecture); with several versions of one
package in a suite, the newest decides (:func:`.changes.classify`, which the commit uses
too). One query reads every row, in either version, of every name whose rows changed
between the two.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from repoversion.db.models import Package, Repoversion, Suite
from repoversion.versions.changes import classify
from repoversion.versions.contents import member_of

#: archive, suite, kind, name, architecture
DiffKey = tuple[str, str, str, str, str]


def diff_versions(session: Session, a: Repoversion, b: Repoversion) -> dict[str, Any]:
    """The ``diff --json`` object (SPEC section 4) going from ``a`` to ``b``."""
    lo, hi = sorted((a.id, b.id))
    changed_names = select(Package.name).where(
        or_(
            and_(Package.added > lo, Package.added <= hi),
            and_(Package.removed > lo, Package.removed <= hi),
        )
    )
    rows = session.execute(
        select(
            Suite.archive,
            Suite.name,
            Package.kind,
            Package.name,
            Package.architecture,
            Package.version,
            member_of(Package, a.id),
            member_of(Package, b.id),
        )
        .join(Suite, Suite.id == Package.suite_id)
        .where(
            Package.name.in_(changed_names),
            or_(member_of(Package, a.id), member_of(Package, b.id)),
        )
    )
    before: dict[DiffKey, set[str]] = {}
    after: dict[DiffKey, set[str]] = {}
    for archive, suite, kind, name, arch, version, in_a, in_b in rows:
        key = (archive, suite, kind, name, arch)
        if in_a:
            before.setdefault(key, set()).add(version)
        if in_b:
            after.setdefault(key, set()).add(version)
    found = classify(before, after)
    return {
        "from": a.version,
        "to": b.version,
        "counts": {
            "added": len(found.added),
            "removed": len(found.removed),
            "upgraded": len(found.upgraded),
            "downgraded": len(found.downgraded),
        },
        "added": [{**_ident(k), "version": v} for k, v in found.added],
        "removed": [{**_ident(k), "version": v} for k, v in found.removed],
        "upgraded": [{**_ident(k), "from": o, "to": n} for k, o, n in found.upgraded],
        "downgraded": [{**_ident(k), "from": o, "to": n} for k, o, n in found.downgraded],
    }


def _ident(key: DiffKey) -> dict[str, str]:
    archive, suite, _kind, name, arch = key
    return {"name": name, "architecture": arch, "archive": archive, "suite": suite}
