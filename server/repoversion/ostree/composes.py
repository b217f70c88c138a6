"""The ``ostree_compose`` rows, and the repoversion a lockfile to compose was made from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from repoversion.db.models import OstreeCompose, Repoversion
from repoversion.errors import Conflict, NotFound


def lock_version(session: Session, lock: Mapping[str, Any]) -> Repoversion:
    """The repoversion ``lock`` was resolved against, checked by its state id.

    :raises NotFound: this home has no such version.
    :raises Conflict: it has one by that number with another state (the lockfile comes
        from another server).
    """
    number = str(lock["repoversion"])
    version = session.scalar(select(Repoversion).where(Repoversion.version == number))
    if version is None:
        raise NotFound(
            f"The lockfile's repoversion {number} is not in this home; compose it where it "
            "was resolved."
        )
    if version.state != lock["state"]:
        raise Conflict(
            f"The lockfile's repoversion {number} has state {lock['state']}, but {number} "
            f"here has {version.state}: the lockfile was resolved on another server."
        )
    return version


def record_compose(
    session: Session,
    ref: str,
    commit: str,
    repoversion_id: int | None,
    debs: Sequence[str],
    now: datetime,
) -> None:
    """Add the row of a compose (every compose is kept: GC keeps the exports of each)."""
    session.add(
        OstreeCompose(
            ref=ref, commit=commit, repoversion_id=repoversion_id, debs=list(debs), created=now
        )
    )
    session.flush()
