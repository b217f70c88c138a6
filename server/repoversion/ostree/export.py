"""Export debs to ostree: ``dpkg/data/<sha256>`` and ``dpkg/control/<sha256>`` (SPEC 7).

For each deb: have its blob (fetched through from its archive when it is not stored),
check its bytes against the sha256, check and filter its tar members
(:mod:`.debfile`), then commit data.tar and control.tar with the metadata of SPEC
section 7, signed, and record an ``ostree_export`` row. A deb already recorded whose refs
are in the repository is skipped. Nothing of a hostile deb is committed: the data archive
is filtered into a temporary file before ostree sees a byte of it.

The commits are reproducible (fixed timestamp, no parent, the ref binding and metadata
only from the deb), so the same deb gives the same checksums on any machine and day.

>>> data_ref("ab" * 32)[:14], control_ref("ab" * 32)[:17]
('dpkg/data/abab', 'dpkg/control/abab')
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.ostree import records
from repoversion.ostree.blobs import DebRef, DebSource, verified_file
from repoversion.ostree.debfile import Control, DebFile
from repoversion.ostree.repo import STDIN_TAR, Repo, open_repo

log = logging.getLogger(__name__)

DATA_PREFIX = "dpkg/data/"
CONTROL_PREFIX = "dpkg/control/"
#: debs exported at once: each mostly waits for its decoder, ostree and gpg
THREADS = 2
#: every export commit's timestamp: fixed, so checksums are reproducible
TIMESTAMP = 0
Progress = Callable[[str, int, int], None]


def data_ref(sha256: str) -> str:
    """The ref of a deb's data.tar tree."""
    return DATA_PREFIX + sha256


def control_ref(sha256: str) -> str:
    """The ref of a deb's control.tar tree."""
    return CONTROL_PREFIX + sha256


@dataclass(frozen=True)
class Exported:
    """One deb in ostree: its package fields, its two commits, the entries dropped, and
    whether this run committed it (``new``) or found it done."""

    sha256: str
    package: str
    version: str
    architecture: str
    data_commit: str
    control_commit: str
    dropped: list[str] = field(default_factory=list)
    new: bool = True

    @classmethod
    def of_row(cls, row: Any) -> Exported:
        """What an ``ostree_export`` row records (``new`` False: found done)."""
        return cls(
            row.sha256,
            row.package,
            row.version,
            row.architecture,
            row.data_commit,
            row.control_commit,
            list(row.dropped),
            new=False,
        )

    def row(self) -> dict[str, Any]:
        """The ``ostree_export`` columns."""
        return {k: v for k, v in asdict(self).items() if k != "new"}

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "package": self.package,
            "version": self.version,
            "architecture": self.architecture,
            "data": {"ref": data_ref(self.sha256), "commit": self.data_commit},
            "control": {"ref": control_ref(self.sha256), "commit": self.control_commit},
            "dropped": self.dropped,
            "new": self.new,
        }


def metadata(control: Control, sha256: str, dropped: Sequence[str]) -> dict[str, str]:
    """The commit metadata of SPEC section 7 (``dpkg.dropped``: one path a line, only
    when something was dropped)."""
    meta = {
        "dpkg.package": control.field("Package"),
        "dpkg.version": control.field("Version"),
        "dpkg.architecture": control.field("Architecture"),
        "dpkg.sha256": sha256,
        "dpkg.control": control.paragraph,
    }
    if dropped:
        meta["dpkg.dropped"] = "\n".join(dropped)
    return meta


def commit_deb(repo: Repo, path: Path, sha256: str, what: str) -> Exported:
    """Commit the deb at ``path`` (already verified) to its two refs.

    :raises BadDeb: it is malformed or hostile (nothing is committed).
    :raises OstreeError: ostree refused.
    """
    with DebFile(path, what) as deb:
        control = deb.control()
        fields = metadata(control, sha256, ())
        subject = f"{fields['dpkg.package']} {fields['dpkg.version']} {fields['dpkg.architecture']}"
        tmp = repo.path / "tmp"
        with (
            tempfile.TemporaryFile(dir=tmp, prefix="repoversion-data-") as raw,
            tempfile.TemporaryFile(dir=tmp, prefix="repoversion-data-") as spare,
        ):
            tar, dropped = deb.write_data(raw, spare)
            data = repo.commit(
                ref=data_ref(sha256),
                trees=[STDIN_TAR],
                subject=f"{subject} data",
                metadata=metadata(control, sha256, dropped),
                timestamp=TIMESTAMP,
                stdin=tar,
            )
    ctl = repo.commit(
        ref=control_ref(sha256),
        trees=[STDIN_TAR],
        subject=f"{subject} control",
        metadata=metadata(control, sha256, control.dropped),
        timestamp=TIMESTAMP,
        stdin=control.tar,
    )
    return Exported(
        sha256,
        fields["dpkg.package"],
        fields["dpkg.version"],
        fields["dpkg.architecture"],
        data,
        ctl,
        dropped,
    )


class Exporter:
    """Exports debs into the server's repository; :func:`export_debs` runs one.

    :param ctx: settings, database, store and signing key.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = open_repo(ctx)
        self.source = DebSource(ctx)

    def done(self, debs: Sequence[DebRef]) -> dict[str, Exported]:
        """The debs already exported: recorded, and both refs at the recorded commits."""
        with transaction(self.ctx.sessions) as s:
            rows = records.export_rows(s, {d.sha256 for d in debs})
        return {
            sha: Exported.of_row(row)
            for sha, row in rows.items()
            if self.repo.rev_parse(data_ref(sha)) == row.data_commit
            and self.repo.rev_parse(control_ref(sha)) == row.control_commit
        }

    def export(self, deb: DebRef) -> Exported:
        """Fetch if needed, verify, commit and record one deb."""
        self.source.have(deb)
        what = f"{deb.name} (sha256 {deb.sha256})"
        with verified_file(self.ctx.store, deb.sha256, what) as path:
            exported = commit_deb(self.repo, path, deb.sha256, what)
        self._record(exported)
        log.info("ostree: exported %s %s (%s)", exported.package, exported.version, deb.sha256)
        return exported

    def _record(self, exported: Exported) -> None:
        """Add or update its row; another process exporting the same deb at once may
        insert it first (with the same values: the same deb gives the same commits)."""
        for attempt in (1, 2):
            try:
                with transaction(self.ctx.sessions) as s:
                    records.record_export(s, exported.row(), self.ctx.settings.clock())
                return
            except IntegrityError:
                if attempt == 2:
                    raise

    def close(self) -> None:
        self.source.close()


def export_debs(
    ctx: Context, debs: Sequence[DebRef], progress: Progress | None = None
) -> list[Exported]:
    """Export each deb that is not exported yet, :data:`THREADS` at a time (the work is
    in the decoders and ostree), then update the signed summary once.

    :param debs: the debs (duplicates are exported once).
    :param progress: ``progress("export", done, total)`` after each deb.
    :returns: one :class:`Exported` per distinct deb, in the order given.
    :raises BadDeb: a deb is malformed or hostile (nothing of it is committed; the
        others started are finished).
    :raises NotFound: a deb is not stored and cannot be fetched.
    :raises RepoversionError: fetching or ostree failed.
    """
    first: dict[str, DebRef] = {}
    for deb in debs:
        first.setdefault(deb.sha256, deb)
    unique = list(first.values())
    exporter = Exporter(ctx)
    try:
        found = exporter.done(unique)
        todo = [d for d in unique if d.sha256 not in found]
        done = len(unique) - len(todo)
        try:
            with ThreadPoolExecutor(THREADS, thread_name_prefix="ostree-export") as pool:
                for exported in pool.map(exporter.export, todo):
                    found[exported.sha256] = exported
                    done += 1
                    if progress is not None:
                        progress("export", done, len(unique))
        finally:
            if any(e.new for e in found.values()):
                exporter.repo.update_summary()
        return [found[d.sha256] for d in unique]
    finally:
        exporter.close()
