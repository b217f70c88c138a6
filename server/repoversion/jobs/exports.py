"""``ostree_export`` jobs: what they take, how a worker runs them, and the ones queued
for archives marked ``ostree_export`` as soon as one of their debs is stored.

A job's parameters are ``{"debs": [{"sha256", "size", "archive", "filename", "url"}]}``
(all but ``sha256`` optional: they say where to fetch a deb that is not stored). Its
result is the ``ostree export --json`` object; its progress counts debs.

>>> export_params({"debs": [{"sha256": "ab" * 32}]})
{'debs': [{'sha256': 'abababababababababababababababababababababababababababababababab'}]}
>>> p = ExportProgress(); p("export", 3, 10); p.snapshot()
{'debs': 3, 'total': 10}
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput
from repoversion.jobs import queue

KIND = "ostree_export"
#: debs per job queued for an archive (a first sync of Debian's main stores 63,000)
CHUNK = 500


class ExportProgress:
    """Debs done out of the job's total."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.done, self.total = done, total

    def snapshot(self) -> dict[str, int]:
        return {"debs": self.done, "total": self.total}


def export_params(params: dict[str, Any]) -> dict[str, Any]:
    """Check an export job's parameters.

    :raises InvalidInput: an unknown parameter, or ``debs`` is not a list of debs with
        valid sha256s.
    """
    from repoversion.ostree.export import DebRef

    unknown = sorted(set(params) - {"debs"})
    if unknown:
        raise InvalidInput(f"Unknown ostree export parameter {unknown[0]!r}.")
    debs = params.get("debs")
    if not isinstance(debs, list) or not all(isinstance(d, dict) for d in debs):
        raise InvalidInput("debs must be a list of objects with a sha256.")
    try:
        return {"debs": [DebRef.from_json(d).to_json() for d in debs]}
    except (TypeError, ValueError):
        raise InvalidInput("debs must be a list of objects with a sha256.") from None


def run_export_job(
    ctx: Context, params: dict[str, Any], progress: ExportProgress
) -> dict[str, Any]:
    """Export the job's debs; its result is the ``ostree export --json`` object.

    :raises RepoversionError: a deb is hostile or cannot be fetched, or ostree failed.
    """
    from repoversion.actions.ostree import export_result
    from repoversion.ostree.export import DebRef, export_debs

    debs = [DebRef.from_json(d) for d in export_params(params)["debs"]]
    return export_result(export_debs(ctx, debs, progress))


def queue_exports(session: Session, shas: Collection[str]) -> list[int]:
    """Queue jobs exporting the stored debs ``shas`` (in chunks); returns their ids."""
    items = sorted(set(shas))
    ids: list[int] = []
    for i in range(0, len(items), CHUNK):
        params = {"debs": [{"sha256": sha} for sha in items[i : i + CHUNK]]}
        ids.append(queue.enqueue(session, KIND, params, queue.wall_clock()).id)
    return ids


def queue_for_archive(sessions: sessionmaker[Session], archive: str, shas: Collection[str]) -> None:
    """Queue exports of debs just stored for ``archive`` if it is marked ``ostree_export``
    (the export itself runs in a worker, never here)."""
    from repoversion.ostree.records import exporting_archive

    if not shas:
        return
    with transaction(sessions) as s:
        if exporting_archive(s, archive):
            queue_exports(s, shas)
