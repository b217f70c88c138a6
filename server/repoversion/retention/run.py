"""One garbage collection: drop the versions the policy lets go, then mark and sweep.

1. Remove what dead writers left in the store (``sweep_leftovers``), then list the store
   (:func:`.sweep.list_store`), before any lock.
2. Take the sync lock (:func:`~repoversion.versions.synclock.gc_lock`), waiting for a
   running sync; a sync that starts meanwhile waits for the collection.
3. In one transaction: mark the versions to drop (:mod:`repoversion.versions.retention`),
   delete the membership rows only they held and their ``derived`` rows.
4. Mark what is live (:mod:`.marks`), sort the unmarked blobs into garbage and spared
   (:func:`.sweep.judge`), free the garbage (:func:`.sweep.free`), prune ostree
   (:mod:`.ostree`); then let the lock go.

The cutoff is the collection's start minus the grace: a blob written or reused after it is
never freed, whatever the grace. A dry run asks every question the same way, with the
versions it would drop passed along, and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.retention import marks, sweep
from repoversion.retention.ostree import Pruned, prune
from repoversion.retention.policy import Policy
from repoversion.versions import retention
from repoversion.versions.refs import count_kept
from repoversion.versions.synclock import gc_lock

Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


@dataclass
class Report:
    """What a collection did (or, dry, would do): the ``gc --json`` object."""

    policy: Policy
    dropped: list[str] = field(default_factory=list)
    kept: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    stored: tuple[int, int] = (0, 0)
    freed: tuple[int, int] = (0, 0)
    spared: tuple[int, int] = (0, 0)
    ostree: Pruned = field(default_factory=Pruned)
    leftovers: int | None = None

    def to_json(self) -> dict[str, Any]:
        pair = ("blobs", "bytes")
        return {
            "dry_run": self.policy.dry_run,
            "grace": self.policy.grace_text,
            "dropped": self.dropped,
            "kept": self.kept,
            "rows": self.rows,
            "stored": dict(zip(pair, self.stored, strict=True)),
            "freed": dict(zip(pair, self.freed, strict=True)),
            "spared": dict(zip(pair, self.spared, strict=True)),
            "ostree": {
                "exports": self.ostree.exports,
                "refs": self.ostree.refs,
                "objects": self.ostree.objects,
            },
            "leftovers": self.leftovers,
            "warnings": list(self.ostree.warnings),
        }


def collect(
    ctx: Context,
    policy: Policy,
    progress: Progress | None = None,
    waiting: Callable[[], None] | None = None,
) -> Report:
    """Run one collection (see the module docstring).

    :param progress: ``progress(stage, done, total)``: ``listing blobs``, ``freeing
        blobs`` and ``freed bytes``.
    :param waiting: called once if a sync holds the lock when the collection wants it.
    """
    progress = progress or _quiet
    started = datetime.now(UTC)
    cutoff = started - policy.grace
    report = Report(policy)
    if not policy.dry_run:
        report.leftovers = ctx.store.sweep_leftovers()
    listing = sweep.list_store(ctx.store, progress)
    report.stored = (len(listing.blobs), listing.bytes)
    with gc_lock(ctx.engine, waiting):
        drops = _drop(ctx, policy, report, started)
        with transaction(ctx.sessions) as s:
            found = marks.mark(s, ctx.store, drops)
            verdict = sweep.judge(s, listing, found.live, cutoff)
            report.kept = count_kept(s) - len(drops)
        del listing
        report.spared = _total(verdict.spared)
        if policy.dry_run:
            report.rows["derived"] = len(found.stale_derived)
            report.freed = _total(verdict.garbage)
        else:
            freed = sweep.free(ctx.sessions, ctx.store, verdict.garbage, cutoff, progress)
            report.freed = (freed.blobs, freed.bytes)
        report.ostree = prune(ctx, found.debs, cutoff, policy.dry_run)
    return report


def _drop(ctx: Context, policy: Policy, report: Report, now: datetime) -> list[int]:
    """Choose the versions to drop; unless dry, drop them with the rows only they held.

    :returns: the ids a dry run passes along (none after a real drop: it is committed).
    """
    with transaction(ctx.sessions) as s:
        versions = retention.to_drop(s, policy.keep, policy.keep_since)
        ids = [v.id for v in versions]
        report.dropped = [v.version for v in versions]
        if policy.dry_run:
            report.rows = retention.prunable_rows(s, ids)
            return ids
        retention.drop(s, ids, now)
        report.rows = retention.prune_rows(s)
        _, stale = marks.derived(s, retention.dropped_ids(s))
        report.rows["derived"] = marks.delete_derived(s, stale)
    return []


def _total(blobs: list[Any]) -> tuple[int, int]:
    return len(blobs), sum(b.size for b in blobs)
