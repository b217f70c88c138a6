"""Commit a sync: the only writer of repoversions, in one transaction.

Blobs are already stored (verified) when this runs; here the rows follow
(:mod:`.rows`). When the served state equals the newest version's, nothing is written.
The bump is decided per suite (:mod:`.changes`): major when a package disappears from a
suite, or a suite or archive does; minor when packages were added or changed; patch
when only served files changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from repoversion.db.bulk import advance_sequence, bulk_insert
from repoversion.db.models import Blob, Repoversion
from repoversion.db.session import transaction
from repoversion.errors import Conflict
from repoversion.storage.base import BlobStore
from repoversion.timefmt import iso
from repoversion.versions import stanzasets
from repoversion.versions.changes import (
    ChangeCounts,
    Classified,
    CommitResult,
    Key,
    classify,
    no_change,
)
from repoversion.versions.numbering import (
    Manifest,
    canonical_json,
    max_bump,
    next_number,
    state_id,
)
from repoversion.versions.refs import latest
from repoversion.versions.rows import OpenFiles, SuiteRows, open_files, open_release, suite_id
from repoversion.versions.snapshot import ArchiveInfo, Scope, ScopeChange, SuiteSnapshot, scope_of

#: blob digests in one ``IN (…)``
CHUNK = 500


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync hands over to be committed.

    :ivar snapshots: the new state of every configured (archive, suite).
    :ivar archives: each archive's configuration, recorded in index.json.
    :ivar blobs: every blob the sync stored (sha256 → size), recorded as rows here.
    :ivar warnings: what the sync warned about, repeated in the result.
    :ivar base_id: the newest repoversion when the sync started; scope changes were
        computed against it.
    """

    snapshots: list[SuiteSnapshot]
    archives: dict[str, ArchiveInfo]
    blobs: dict[str, int]
    warnings: list[str]
    base_id: int | None


def commit_sync(
    sessions: sessionmaker[Session],
    store: BlobStore,
    now: datetime,
    outcome: SyncOutcome,
    bump_floor: str | None = None,
) -> CommitResult:
    """Commit ``outcome`` as a new repoversion (or nothing), in one transaction.

    :param now: the new version's creation time.
    :param bump_floor: the least bump wanted (``sync --bump``).
    :raises Conflict: another sync committed since ``outcome.base_id``; nothing is written.
    """
    with transaction(sessions) as session:
        return Committer(session, store, now).commit(outcome, bump_floor)


def _lock(session: Session) -> None:
    """Serialise commits: PostgreSQL advisory lock; SQLite takes its write lock now."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7215001)"))
    else:
        session.execute(update(Repoversion).where(Repoversion.id == -1).values(bump="x"))


class Committer:
    """Turns one sync's snapshots into a new repoversion (or none)."""

    def __init__(self, session: Session, store: BlobStore, now: datetime) -> None:
        self.session = session
        self.store = store
        self.now = now
        self.counts = ChangeCounts()
        self.major = False
        self.sources_added = False
        #: the stanza set of each (suite id, scope) the version changes; None: gone
        self.stanza_sets: dict[tuple[int, Scope], set[int] | None] = {}
        #: blobs the commit itself stores (sha256 → size)
        self.stored: dict[str, int] = {}

    def commit(self, outcome: SyncOutcome, bump_floor: str | None) -> CommitResult:
        """Write the new repoversion, or nothing when the state is unchanged."""
        _lock(self.session)
        prev = self._base(outcome.base_id)
        served = open_files(self.session)
        manifest, kept = _manifest(outcome.snapshots, served)
        state = state_id(manifest)
        if prev is None and not manifest:
            return no_change(None, state, outcome.warnings)
        if prev is not None and prev.state == state:
            return no_change(prev.version, state, outcome.warnings)
        if set(served) != {(a, su) for a, suites in manifest.items() for su in suites}:
            self.major = True  # a suite or an archive was added or removed
        vid = self._reserve_id(prev)
        releases = {(s.archive, s.suite): self._apply_suite(s, served, vid) for s in kept}
        self._drop_suites(set(served) - set(releases), vid)
        if self.sources_added:
            advance_sequence(self.session, "package")
        self._record_stanza_sets(prev, vid)
        bump = self._bump(prev, bump_floor)
        number = next_number((prev.major, prev.minor, prev.patch) if prev else None, bump)
        version = ".".join(map(str, number))
        changes = self.counts.counts()
        index = {
            "format": 1,
            "repoversion": version,
            "state": state,
            "parent": prev.version if prev else None,
            "bump": bump,
            "created": iso(self.now),
            "changes": changes,
            "archives": _archives_json(manifest, outcome.archives, releases),
        }
        index_blob = self.store.put_bytes(canonical_json(index))
        row = self.session.get(Repoversion, vid)
        assert row is not None
        row.major, row.minor, row.patch = number
        row.version, row.state, row.bump, row.changes = version, state, bump, changes
        row.index_sha256 = index_blob.sha256
        self._record_blobs({**outcome.blobs, **self.stored, index_blob.sha256: index_blob.size})
        self.session.flush()
        return CommitResult(version, True, bump, state, changes, outcome.warnings)

    # -- steps ------------------------------------------------------------------------------

    def _base(self, base_id: int | None) -> Repoversion | None:
        """The newest version, which must be the one the sync started from."""
        prev = latest(self.session)
        if (prev.id if prev else None) != base_id:
            raise Conflict(
                f"Another sync committed repoversion {prev.version if prev else '?'} "
                "meanwhile; run the sync again."
            )
        return prev

    def _reserve_id(self, prev: Repoversion | None) -> int:
        """Insert the version row early: its id bounds the membership ranges written next."""
        row = Repoversion(
            major=0,
            minor=0,
            patch=0,
            version=f"pending-{self.now.timestamp()}",
            state="",
            parent_id=prev.id if prev else None,
            bump="",
            created=self.now,
            index_sha256="",
            changes={},
        )
        self.session.add(row)
        self.session.flush()
        return row.id

    def _apply_suite(
        self, snap: SuiteSnapshot, served: dict[tuple[str, str], OpenFiles], vid: int
    ) -> dict[str, Any]:
        """Write one suite's rows; returns its Release summary for index.json."""
        sid = suite_id(self.session, snap.archive, snap.suite)
        if snap.carried:
            rel = open_release(self.session, sid)
            return dict(rel.fields.get("summary", {})) if rel else {}
        rows = SuiteRows(self.session, vid, sid)
        old = served.get((snap.archive, snap.suite), {})
        rows.files(snap, old)
        rows.release(snap)
        # A scope has open rows only while one of its index files is served, so the
        # base's served files say which scopes may have rows to close.
        changes = dict(snap.scopes)
        for scope in {scope_of(p) for p in old} - {None} - snap.all_scopes:
            assert scope is not None
            changes[scope] = rows.vanished_scope(scope)
        unchanged = {scope_of(p) for p in old} - {None} - set(changes)
        self._apply_changes(rows, changes, others=bool(unchanged))
        return dict(snap.release.get("summary", {}))

    def _apply_changes(
        self, rows: SuiteRows, changes: dict[Scope, ScopeChange], others: bool = False
    ) -> None:
        """Write every scope change of one suite and account for it, per suite."""
        found = _classify_suite(rows, changes, others)
        self.counts.account(found)
        if found.removed:
            self.major = True
        for scope, change in changes.items():
            self.stanza_sets[(rows.sid, scope)] = change.stanzas
            if change.close or change.add:
                self.counts.changed = True
            if scope[1] == "dsc" and change.add:
                self.sources_added = True
            rows.packages(scope, change)

    def _drop_suites(self, gone: Iterable[tuple[str, str]], vid: int) -> None:
        """Suites (or whole archives) no longer mirrored: close everything they had."""
        for archive, suite in gone:
            rows = SuiteRows(self.session, vid, suite_id(self.session, archive, suite))
            self._apply_changes(rows, {s: rows.vanished_scope(s) for s in rows.open_scopes()})
            rows.drop()
            self.major = True

    def _bump(self, prev: Repoversion | None, floor: str | None) -> str:
        if prev is None:
            return "major"
        if self.major:
            return "major"
        bump = "minor" if self.counts.added or self.counts.changed else "patch"
        return max_bump(bump, floor)

    def _record_stanza_sets(self, prev: Repoversion | None, vid: int) -> None:
        for (sid, scope), digests in self.stanza_sets.items():
            if digests is not None:
                sha, size = stanzasets.write(
                    self.session, self.store, vid, sid, scope, digests, self.now
                )
                self.stored[sha] = size
        if prev is not None:
            stanzasets.carry(self.session, prev.id, vid, set(self.stanza_sets), self.now)

    def _record_blobs(self, blobs: dict[str, int]) -> None:
        digests = list(blobs)
        known: set[str] = set()
        for i in range(0, len(digests), CHUNK):
            known.update(
                self.session.scalars(
                    select(Blob.sha256).where(Blob.sha256.in_(digests[i : i + CHUNK]))
                )
            )
        bulk_insert(
            self.session,
            "blob",
            ("sha256", "size", "created"),
            [(d, blobs[d], self.now) for d in digests if d not in known],
            ignore_existing=True,
        )


def _classify_suite(
    rows: SuiteRows, changes: dict[Scope, ScopeChange], others: bool
) -> Classified[Key]:
    """Classify a suite's package changes across all its scopes: a package that leaves
    one component for another is not removed. With ``others`` (the suite has scopes
    this commit leaves unchanged), keys found on one side only are looked up there:
    those scopes hold them on both sides."""
    before = _merged(change.before for change in changes.values())
    after = _merged(change.after for change in changes.values())
    one_sided = before.keys() ^ after.keys()
    if others and one_sided:
        for key, version in rows.elsewhere(set(changes), {k[1] for k in one_sided}):
            if key in one_sided:
                before[key] = {*before.get(key, ()), version}
                after[key] = {*after.get(key, ()), version}
    return classify(before, after, detail=False)


def _merged(parts: Iterable[dict[Key, set[str]]]) -> dict[Key, set[str]]:
    """One map of the scopes' maps; a key in several scopes gets the union of its
    versions. Keys in one scope only are copied in bulk (a first sync has 100,000s)."""
    out: dict[Key, set[str]] = {}
    for part in parts:
        overlap = out.keys() & part.keys()
        for key in overlap:
            out[key] = out[key] | part[key]
        if overlap:
            part = {k: v for k, v in part.items() if k not in overlap}
        out.update(part)
    return out


def _manifest(
    snapshots: list[SuiteSnapshot], served: dict[tuple[str, str], OpenFiles]
) -> tuple[Manifest, list[SuiteSnapshot]]:
    """The new state's files per archive and suite, and the snapshots it keeps (a
    carried suite that was never mirrored has nothing to carry)."""
    manifest: Manifest = {}
    kept: list[SuiteSnapshot] = []
    for snap in snapshots:
        if snap.carried:
            old = served.get((snap.archive, snap.suite))
            if old is None:
                continue
            files = {p: {"sha256": sha, "size": size} for p, (_, sha, size) in old.items()}
        else:
            files = {p: {"sha256": f.sha256, "size": f.size} for p, f in snap.files.items()}
        manifest.setdefault(snap.archive, {})[snap.suite] = files
        kept.append(snap)
    return manifest, kept


def _archives_json(
    manifest: Manifest,
    archives: dict[str, ArchiveInfo],
    releases: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """The ``archives`` object of index.json."""
    return {
        name: {
            "url": archives[name].url,
            "mode": archives[name].mode,
            "policy": archives[name].policy,
            "suites": {
                suite: {"release": releases.get((name, suite), {}), "files": files}
                for suite, files in sorted(suites.items())
            },
        }
        for name, suites in sorted(manifest.items())
    }
