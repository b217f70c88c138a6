"""Repoversions: numbering, lookup of refs, listing. The only writer of repoversion rows."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repoversion.db.models import Repoversion
from repoversion.timefmt import iso

VERSION_RE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
BUMPS = ("patch", "minor", "major")


def version_json(v: Repoversion, parent: str | None) -> dict[str, Any]:
    return {"repoversion": v.version, "state": v.state, "created": iso(v.created),
            "bump": v.bump, "parent": parent}


def list_versions(session: Session, limit: int | None = None,
                  before_id: int | None = None) -> list[dict[str, Any]]:
    """Kept (not dropped) versions, newest first."""
    parent = Repoversion.__table__.alias("parent")
    query = (select(Repoversion, parent.c.version)
             .outerjoin(parent, parent.c.id == Repoversion.parent_id)
             .where(Repoversion.dropped.is_(None))
             .order_by(Repoversion.id.desc()))
    if before_id is not None:
        query = query.where(Repoversion.id < before_id)
    if limit is not None:
        query = query.limit(limit)
    return [version_json(v, p) for v, p in session.execute(query)]
