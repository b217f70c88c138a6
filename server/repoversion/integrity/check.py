"""fsck: re-hash the store, check the database's references against it, repair if asked.

The steps, each safe while the server serves and syncs run:

1. every stored blob is re-hashed (:func:`~.scan.scan_store`); a corrupt one is
   quarantined at once;
2. every digest the database expects (:func:`~.references.expected_digests`) is looked
   up among the blobs found intact; one that is absent is asked about once more, since a
   sync may have stored it after the store was listed;
3. with ``repair``, each bad blob is repaired if it can be (:class:`~.repair.Repairer`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import RepoversionError
from repoversion.integrity.references import Need, expected_digests, needs_of
from repoversion.integrity.repair import Repairer, Verdict
from repoversion.integrity.scan import Corrupt, Scan, scan_store
from repoversion.storage.base import BlobStore

#: ``progress(stage, done, total)``
Progress = Callable[[str, int, int], None]


class StoreDamaged(RepoversionError):
    """fsck found blobs corrupt or missing (or, repairing, could not repair some)."""

    code = "store_damaged"
    status = 500


@dataclass
class Report:
    """What fsck found and, with ``repair``, what it did."""

    repair: bool
    scan: Scan
    missing: list[str] = field(default_factory=list)
    needs: dict[str, list[Need]] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def unrepaired(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.repaired]

    @property
    def ok(self) -> bool:
        """Nothing was wrong, or (repairing) everything wrong was repaired."""
        if self.repair:
            return not self.unrepaired
        return not self.scan.corrupt and not self.missing

    def needed_by(self, sha256: str) -> list[str]:
        """What needs a bad blob, for people."""
        return [n.describe() for n in self.needs.get(sha256, [])]

    def corrupt_sentence(self, c: Corrupt) -> str:
        recorded = {n.size for n in self.needs.get(c.sha256, []) if n.size is not None}
        sizes = f"{c.size} bytes" + (
            f" of the {max(recorded)} recorded" if recorded and c.size not in recorded else ""
        )
        return (
            f"blob {c.sha256} is corrupt (its {sizes} hash to {c.actual}); moved to {c.quarantined}"
        )

    def missing_sentence(self, sha256: str) -> str:
        return f"blob {sha256} is missing (needed by {'; '.join(self.needed_by(sha256))})"

    def error(self) -> StoreDamaged | None:
        """The one sentence a failed fsck ends with, or ``None`` when it is ok."""
        if self.ok:
            return None
        if self.repair:
            bad = len(self.verdicts)
            return StoreDamaged(f"{len(self.unrepaired)} of {bad} bad blobs could not be repaired.")
        return StoreDamaged(
            f"fsck found {len(self.scan.corrupt)} corrupt and {len(self.missing)} missing "
            "blobs; `repoversion fsck --repair` fetches again what upstream still has."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "blobs": self.scan.blobs,
            "bytes": self.scan.bytes,
            "corrupt": [
                {
                    "sha256": c.sha256,
                    "size": c.size,
                    "actual": c.actual,
                    "quarantined": c.quarantined,
                    "needed_by": self.needed_by(c.sha256),
                }
                for c in self.scan.corrupt
            ],
            "missing": [{"sha256": d, "needed_by": self.needed_by(d)} for d in self.missing],
            "repaired": [{"sha256": v.sha256, "how": v.how} for v in self.verdicts if v.repaired],
            "unrepaired": [{"sha256": v.sha256, "why": v.how} for v in self.unrepaired],
            "ok": self.ok,
        }


def missing_digests(ctx: Context, scan: Scan) -> list[str]:
    """Digests the database expects that the store lacks (corrupt ones aside)."""
    quarantined = {c.sha256 for c in scan.corrupt}
    with transaction(ctx.sessions) as s:
        absent = {d for d in expected_digests(s) if d not in scan.present and d not in quarantined}
    return sorted(d for d in absent if not ctx.store.exists(d))


def fsck(ctx: Context, *, repair: bool, threads: int, progress: Progress | None = None) -> Report:
    """Check (and with ``repair``, repair) the home's blob store against its database.

    :param ctx: the home's context.
    :param repair: fetch, regenerate or forget what is bad.
    :param threads: blobs read (and downloaded) at once.
    :param progress: ``progress(stage, done, total)``; stages ``verify`` (bytes) and
        ``repair`` (blobs).
    :raises StorageError: the store cannot be read.
    """
    report = progress or (lambda _stage, _done, _total: None)
    ctx.sessions  # noqa: B018 - a missing or outdated schema is refused before hours of reading
    store: BlobStore = ctx.store
    scan = scan_store(store, threads, lambda done, total: report("verify", done, total))
    out = Report(repair, scan, missing_digests(ctx, scan))
    bad = [c.sha256 for c in scan.corrupt] + out.missing
    with transaction(ctx.sessions) as s:
        out.needs = needs_of(s, bad)
    if repair and bad:
        repairer = Repairer(ctx, threads)
        try:
            out.verdicts = repairer.run(
                out.needs, lambda done, total: report("repair", done, total)
            )
        finally:
            repairer.close()
    return out
