"""Pruning the ostree repository: the per-deb commits nothing needs any more.

A deb's export (``dpkg/data/<sha256>``, ``dpkg/control/<sha256>`` and its
``ostree_export`` row) stays while the deb is in a kept version, in a compose, or named
by a queued or running job (:class:`~.marks.Marks` ``debs``). Any other export goes: its
row, then its refs (``ostree refs --delete``), unless a ref was written within the grace
(an export under way). Composed refs are never touched. ``ostree prune --refs-only`` then
deletes the objects no ref reaches, under ostree's own repository lock (a commit under
way holds it shared), and the signed summary is written again.

Nothing happens when the repository (setting ``ostree_repo``) does not exist. A failure of
ostree is a warning of the collection, not its failure: the blobs are freed all the same.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select

from repoversion.context import Context
from repoversion.db.models import OstreeExport
from repoversion.db.session import transaction
from repoversion.errors import OstreeError
from repoversion.ostree.repo import Repo, signer_key

PREFIXES = ("dpkg/data/", "dpkg/control/")
#: refs deleted by one ``ostree refs --delete``
BATCH = 200
_DELETED = re.compile(r"Deleted (\d+) objects")


@dataclass
class Pruned:
    """What the ostree prune did (or, in a dry run, would do)."""

    exports: int = 0
    refs: int = 0
    objects: int = 0
    warnings: list[str] = field(default_factory=list)


def prune(ctx: Context, needed: Collection[str], cutoff: datetime, dry_run: bool) -> Pruned:
    """Drop the exports of debs not in ``needed`` and prune what only they reached."""
    path = ctx.settings.ostree_repo_path
    if not (path / "config").is_file():
        return Pruned()
    repo = Repo(path, signer_key(ctx.signer))
    pruned = Pruned()
    try:
        refs = {p: set(repo.refs(p.rstrip("/"))) for p in PREFIXES}
        with transaction(ctx.sessions) as s:
            rows = set(s.scalars(select(OstreeExport.sha256)))
        exported = rows | refs[PREFIXES[0]] | refs[PREFIXES[1]]
        doomed = sorted(
            sha for sha in exported - set(needed) if not _written_since(repo, sha, cutoff, refs)
        )
        pruned.exports = len(doomed)
        names = [p + sha for sha in doomed for p in PREFIXES if sha in refs[p]]
        pruned.refs = len(names)
        if dry_run or not doomed:
            return pruned
        _forget(ctx, doomed)
        for i in range(0, len(names), BATCH):
            repo.run("refs", "--delete", *names[i : i + BATCH])
        out = repo.run("prune", "--refs-only")
        found = _DELETED.search(out)
        pruned.objects = int(found[1]) if found else 0
        repo.update_summary()
    except OstreeError as exc:
        pruned.warnings.append(f"{exc.message.rstrip('.')}; the ostree repository was not pruned.")
    return pruned


def _written_since(repo: Repo, sha: str, cutoff: datetime, refs: dict[str, set[str]]) -> bool:
    """Whether a ref of the deb was written at or after ``cutoff`` (an export under way)."""
    for prefix in PREFIXES:
        if sha not in refs[prefix]:
            continue
        try:
            mtime = (repo.path / "refs" / "heads" / (prefix + sha)).stat().st_mtime
        except FileNotFoundError:
            continue
        if datetime.fromtimestamp(mtime, UTC) >= cutoff:
            return True
    return False


def _forget(ctx: Context, shas: list[str]) -> None:
    """Delete the ``ostree_export`` rows of ``shas``."""
    with transaction(ctx.sessions) as s:
        for i in range(0, len(shas), BATCH):
            s.execute(
                delete(OstreeExport)
                .where(OstreeExport.sha256.in_(shas[i : i + BATCH]))
                .execution_options(synchronize_session=False)
            )
