"""Commit a sync: the only writer of repoversions, in one transaction.

Blobs are already stored (verified) when this runs; here the rows follow. Membership is
kept as ranges: rows of what disappeared get ``removed = <new id>``, rows of what appeared
get ``added = <new id>``, everything unchanged is left alone, so a version costs what
changed. When the served state equals the newest version's, nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from repoversion.db.bulk import bulk_insert
from repoversion.db.models import (
    Blob,
    IndexFile,
    Package,
    Repoversion,
    SourceFile,
    Suite,
    SuiteRelease,
)
from repoversion.errors import Conflict
from repoversion.mirror import stanzasets
from repoversion.mirror.changes import ChangeCounts, CommitResult, no_change
from repoversion.mirror.model import (
    ArchiveInfo,
    Key,
    Scope,
    ScopeChange,
    SuiteSnapshot,
    scope_of,
)
from repoversion.storage.base import BlobStore
from repoversion.timefmt import iso
from repoversion.versions import canonical_json, latest, max_bump, next_number, state_id

CHUNK = 500


PACKAGE_COLUMNS = (
    "suite_id",
    "component",
    "kind",
    "name",
    "version",
    "architecture",
    "filename",
    "sha256",
    "size",
    "added",
    "stanza",
)


def _lock(session: Session) -> None:
    """Serialise commits: PostgreSQL advisory lock; SQLite takes its write lock now."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7215001)"))
    else:
        session.execute(update(Repoversion).where(Repoversion.id == -1).values(bump="x"))


class Committer:
    """Turns suite snapshots into a new repoversion (or none)."""

    def __init__(self, session: Session, store: BlobStore, now: datetime) -> None:
        self.session = session
        self.store = store
        self.now = now
        self.diff = ChangeCounts()
        self.major = False
        #: the stanza set of each (suite id, scope) the version changes; None: gone
        self.stanza_sets: dict[tuple[int, Scope], set[int] | None] = {}
        #: blobs the commit itself stores (sha256 → size)
        self.stored: dict[str, int] = {}

    def _suite_id(self, archive: str, name: str) -> int:
        sid = self.session.scalar(
            select(Suite.id).where(Suite.archive == archive, Suite.name == name)
        )
        if sid is None:
            row = Suite(archive=archive, name=name)
            self.session.add(row)
            self.session.flush()
            sid = row.id
        return sid

    def _open_files(self) -> dict[tuple[str, str], dict[str, tuple[int, str, int]]]:
        rows = self.session.execute(
            select(
                Suite.archive,
                Suite.name,
                IndexFile.id,
                IndexFile.path,
                IndexFile.sha256,
                IndexFile.size,
            )
            .join(Suite, Suite.id == IndexFile.suite_id)
            .where(IndexFile.removed.is_(None))
        )
        out: dict[tuple[str, str], dict[str, tuple[int, str, int]]] = {}
        for arc, suite, fid, path, sha, size in rows:
            out.setdefault((arc, suite), {})[path] = (fid, sha, size)
        return out

    def _open_release(self, suite_id: int) -> SuiteRelease | None:
        return self.session.scalar(
            select(SuiteRelease).where(
                SuiteRelease.suite_id == suite_id, SuiteRelease.removed.is_(None)
            )
        )

    def commit(
        self,
        snapshots: list[SuiteSnapshot],
        archives: dict[str, ArchiveInfo],
        bump_floor: str | None,
        blobs: dict[str, int],
        warnings: list[str],
        base_id: int | None = None,
    ) -> CommitResult:
        """Write the new repoversion, or nothing when the state is unchanged.

        :param blobs: every blob this sync stored (sha256 → size), recorded as rows here.
        :param base_id: the newest repoversion when the sync started; the scope changes
            were computed against it.
        :raises Conflict: another sync committed since (nothing is written; sync again).
        """
        s = self.session
        _lock(s)
        prev = latest(s)
        if (prev.id if prev else None) != base_id:
            raise Conflict(
                f"Another sync committed repoversion {prev.version if prev else '?'} "
                "meanwhile; run the sync again."
            )
        open_files = self._open_files()
        manifest: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        kept: list[SuiteSnapshot] = []
        for snap in snapshots:
            if snap.carried:
                old = open_files.get((snap.archive, snap.suite))
                if old is None:
                    continue
                files = {p: {"sha256": sha, "size": size} for p, (_, sha, size) in old.items()}
            else:
                files = {p: {"sha256": f.sha256, "size": f.size} for p, f in snap.files.items()}
            manifest.setdefault(snap.archive, {})[snap.suite] = files
            kept.append(snap)
        state = state_id(manifest)
        if prev is None and not manifest:
            return no_change(None, state, warnings)
        if prev is not None and prev.state == state:
            return no_change(prev.version, state, warnings)

        if set(open_files) != {(a, su) for a, suites in manifest.items() for su in suites}:
            self.major = True
        vid = self._reserve_id(prev)
        releases: dict[tuple[str, str], dict[str, Any]] = {}
        for snap in kept:
            sid = self._suite_id(snap.archive, snap.suite)
            if snap.carried:
                rel = self._open_release(sid)
                releases[(snap.archive, snap.suite)] = (
                    dict(rel.fields.get("summary", {})) if rel else {}
                )
                continue
            self._apply_files(sid, snap, open_files.get((snap.archive, snap.suite), {}), vid)
            self._apply_release(sid, snap, vid)
            releases[(snap.archive, snap.suite)] = dict(snap.release.get("summary", {}))
            self._apply_packages(sid, snap, vid, open_files.get((snap.archive, snap.suite), {}))
        for arc, suite in set(open_files) - {(a, su) for a, sus in manifest.items() for su in sus}:
            self._drop_suite(self._suite_id(arc, suite), vid)
        self._record_stanza_sets(prev, vid)

        bump = (
            "major"
            if prev is None or self.major
            else ("minor" if self.diff.added or self.diff.changed else "patch")
        )
        bump = max_bump(bump, bump_floor) if prev is not None else "major"
        major, minor, patch = next_number(
            (prev.major, prev.minor, prev.patch) if prev else None, bump
        )
        version = f"{major}.{minor}.{patch}"
        changes = self.diff.counts()
        index = {
            "format": 1,
            "repoversion": version,
            "state": state,
            "parent": prev.version if prev else None,
            "bump": bump,
            "created": iso(self.now),
            "changes": changes,
            "archives": {
                name: {
                    "url": archives[name].url,
                    "mode": archives[name].mode,
                    "policy": archives[name].policy,
                    "suites": {
                        su: {"release": releases.get((name, su), {}), "files": files}
                        for su, files in sorted(suites.items())
                    },
                }
                for name, suites in sorted(manifest.items())
            },
        }
        index_blob = self.store.put_bytes(canonical_json(index))
        blobs = {**blobs, **self.stored, index_blob.sha256: index_blob.size}
        row = s.get(Repoversion, vid)
        assert row is not None
        row.major, row.minor, row.patch, row.version = major, minor, patch, version
        row.state, row.bump, row.changes = state, bump, changes
        row.index_sha256 = index_blob.sha256
        self._record_blobs(blobs)
        s.flush()
        return CommitResult(version, True, bump, state, changes, warnings)

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

    def _apply_files(
        self, sid: int, snap: SuiteSnapshot, old: dict[str, tuple[int, str, int]], vid: int
    ) -> None:
        close = [
            fid for path, (fid, sha, size) in old.items() if snap.files.get(path) != (sha, size)
        ]
        rows = [
            {"suite_id": sid, "path": p, "sha256": f.sha256, "size": f.size, "added": vid}
            for p, f in snap.files.items()
            if p not in old or (old[p][1], old[p][2]) != (f.sha256, f.size)
        ]
        self._close(IndexFile, close, vid)
        if rows:
            self.session.execute(insert(IndexFile), rows)

    def _apply_release(self, sid: int, snap: SuiteSnapshot, vid: int) -> None:
        old = self._open_release(sid)
        if old is not None and old.sha256 == snap.release_sha256 and old.fields == snap.release:
            return
        if old is not None:
            old.removed = vid
        self.session.add(
            SuiteRelease(
                suite_id=sid,
                sha256=snap.release_sha256,
                date=snap.release_date,
                fields=snap.release,
                added=vid,
            )
        )

    def _apply_packages(
        self, sid: int, snap: SuiteSnapshot, vid: int, base_paths: Iterable[str]
    ) -> None:
        # A scope has open rows only while one of its index files is served (rows are
        # added from served indices, and closed with the scope when its last index
        # goes), so the base's served files say which scopes may have rows to close.
        for scope in {scope_of(p) for p in base_paths} - {None} - snap.all_scopes:
            assert scope is not None
            self._close_scope(sid, scope, vid)
        for scope, change in snap.scopes.items():
            self._apply_change(sid, scope, change, vid)

    def _close_scope(self, sid: int, scope: Scope, vid: int) -> None:
        """A whole scope disappears: every package of it is removed."""
        component, kind = scope
        rows = self.session.execute(
            select(Package.id, Package.name, Package.version, Package.architecture).where(
                Package.suite_id == sid,
                Package.component == component,
                Package.kind == kind,
                Package.removed.is_(None),
            )
        ).all()
        before: dict[Key, set[str]] = {}
        for _, name, version, arch in rows:
            before.setdefault((kind, name, arch), set()).add(version)
        self._apply_change(sid, scope, ScopeChange(close=[r[0] for r in rows], before=before), vid)

    def _record_stanza_sets(self, prev: Repoversion | None, vid: int) -> None:
        for (sid, scope), digests in self.stanza_sets.items():
            if digests is not None:
                sha, size = stanzasets.write(
                    self.session, self.store, vid, sid, scope, digests, self.now
                )
                self.stored[sha] = size
        if prev is not None:
            stanzasets.carry(self.session, prev.id, vid, set(self.stanza_sets), self.now)

    def _apply_change(self, sid: int, scope: Scope, change: ScopeChange, vid: int) -> None:
        component, kind = scope
        s = self.session
        self.stanza_sets[(sid, scope)] = change.stanzas
        if change.before.keys() - change.after.keys():
            self.major = True
        self.diff.account(change.before, change.after)
        if change.close or change.add:
            self.diff.changed = True
        self._close(Package, change.close, vid)
        if kind == "dsc":
            for digest, r in change.add:
                pkg = Package(
                    suite_id=sid,
                    component=component,
                    kind=kind,
                    name=r.name,
                    version=r.version,
                    architecture=r.architecture,
                    filename=r.filename,
                    sha256=r.sha256,
                    size=r.size,
                    added=vid,
                    stanza=digest,
                )
                s.add(pkg)
                s.flush()
                s.add_all(
                    SourceFile(package_id=pkg.id, path=path, sha256=sha, size=size)
                    for path, sha, size in r.files
                )
        else:
            bulk_insert(
                s,
                "package",
                PACKAGE_COLUMNS,
                [
                    (
                        sid,
                        component,
                        kind,
                        r.name,
                        r.version,
                        r.architecture,
                        r.filename,
                        r.sha256,
                        r.size,
                        vid,
                        digest,
                    )
                    for digest, r in change.add
                ],
            )

    def _drop_suite(self, sid: int, vid: int) -> None:
        """A suite (or its whole archive) is no longer mirrored: close everything it had."""
        s = self.session
        for scope in s.execute(
            select(Package.component, Package.kind)
            .where(Package.suite_id == sid, Package.removed.is_(None))
            .distinct()
        ).all():
            self._close_scope(sid, scope, vid)
        for model in (IndexFile, SuiteRelease):
            s.execute(
                update(model)
                .where(model.suite_id == sid, model.removed.is_(None))
                .values(removed=vid)
            )
        self.major = True

    def _close(self, model: type[IndexFile] | type[Package], ids: list[int], vid: int) -> None:
        for i in range(0, len(ids), CHUNK):
            self.session.execute(
                update(model).where(model.id.in_(ids[i : i + CHUNK])).values(removed=vid)
            )

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
