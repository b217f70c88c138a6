"""The rows one suite gets in a new repoversion: served files, its Release, packages.

Membership is kept as ranges (:mod:`.contents`): rows of what disappears get
``removed = <new id>``, rows of what appears are inserted with ``added = <new id>``,
everything unchanged is left alone, so a version costs what changed. Package rows,
binary and source, and a source package's files go in through the driver's bulk path
(``COPY`` on PostgreSQL); the files need their package's row id, so source package rows
take ids reserved under the commit lock. The few rows of served files and Releases go
through SQLAlchemy Core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from repoversion.db.bulk import bulk_insert, next_ids
from repoversion.db.models import IndexFile, Package, Suite, SuiteRelease
from repoversion.versions.changes import Key
from repoversion.versions.contents import open_now
from repoversion.versions.snapshot import PackageRecord, Scope, ScopeChange, SuiteSnapshot

#: ids in one ``IN (…)`` of an UPDATE
CHUNK = 500
#: names in one ``IN (…)`` of a SELECT
NAME_CHUNK = 5000

DEB_COLUMNS = (
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
DSC_COLUMNS = ("id", *DEB_COLUMNS)
SOURCE_FILE_COLUMNS = ("package_id", "path", "sha256", "size")

#: (id, sha256, size) of each served path
OpenFiles = dict[str, tuple[int, str, int]]


def suite_id(session: Session, archive: str, name: str) -> int:
    """The id of (archive, suite), created on first use."""
    sid = session.scalar(select(Suite.id).where(Suite.archive == archive, Suite.name == name))
    if sid is None:
        row = Suite(archive=archive, name=name)
        session.add(row)
        session.flush()
        sid = row.id
    return sid


def open_files(session: Session) -> dict[tuple[str, str], OpenFiles]:
    """The files each (archive, suite) serves in the newest version."""
    rows = session.execute(
        select(
            Suite.archive,
            Suite.name,
            IndexFile.id,
            IndexFile.path,
            IndexFile.sha256,
            IndexFile.size,
        )
        .join(Suite, Suite.id == IndexFile.suite_id)
        .where(open_now(IndexFile))
    )
    out: dict[tuple[str, str], OpenFiles] = {}
    for arc, suite, fid, path, sha, size in rows:
        out.setdefault((arc, suite), {})[path] = (fid, sha, size)
    return out


def open_release(session: Session, sid: int) -> SuiteRelease | None:
    """The Release row of suite ``sid`` in the newest version."""
    return session.scalar(
        select(SuiteRelease).where(SuiteRelease.suite_id == sid, open_now(SuiteRelease))
    )


class SuiteRows:
    """Writes one suite's rows for repoversion ``vid``.

    :param session: the commit's session (holding the commit lock).
    :param vid: the new version's id.
    :param sid: the suite's id.
    """

    def __init__(self, session: Session, vid: int, sid: int) -> None:
        self.session = session
        self.vid = vid
        self.sid = sid

    def files(self, snap: SuiteSnapshot, old: OpenFiles) -> None:
        """Served files: close the changed and gone ones, add the new ones."""
        close = [
            fid
            for path, (fid, sha, size) in old.items()
            if (ref := snap.files.get(path)) is None or (ref.sha256, ref.size) != (sha, size)
        ]
        rows = [
            {"suite_id": self.sid, "path": p, "sha256": f.sha256, "size": f.size, "added": self.vid}
            for p, f in snap.files.items()
            if p not in old or (old[p][1], old[p][2]) != (f.sha256, f.size)
        ]
        self.close(IndexFile, close)
        if rows:
            self.session.execute(insert(IndexFile), rows)

    def release(self, snap: SuiteSnapshot) -> None:
        """The upstream Release, replaced when it changed."""
        old = open_release(self.session, self.sid)
        if old is not None and old.sha256 == snap.release_sha256 and old.fields == snap.release:
            return
        if old is not None:
            old.removed = self.vid
        self.session.add(
            SuiteRelease(
                suite_id=self.sid,
                sha256=snap.release_sha256,
                date=snap.release_date,
                fields=snap.release,
                added=self.vid,
            )
        )

    def vanished_scope(self, scope: Scope) -> ScopeChange:
        """The change that removes every package of a scope no longer served."""
        component, kind = scope
        rows = self.session.execute(
            select(Package.id, Package.name, Package.version, Package.architecture).where(
                Package.suite_id == self.sid,
                Package.component == component,
                Package.kind == kind,
                open_now(Package),
            )
        ).all()
        before: dict[Key, set[str]] = {}
        for _, name, version, arch in rows:
            before.setdefault((kind, name, arch), set()).add(version)
        return ScopeChange(close=[r[0] for r in rows], before=before)

    def open_scopes(self) -> list[Scope]:
        """Every (component, kind) with packages in the newest version."""
        rows = self.session.execute(
            select(Package.component, Package.kind)
            .where(Package.suite_id == self.sid, open_now(Package))
            .distinct()
        )
        return [(component, kind) for component, kind in rows]

    def elsewhere(self, scopes: set[Scope], names: set[str]) -> list[tuple[Key, str]]:
        """(key, version) of the suite's open packages named ``names`` outside ``scopes``:
        what the scopes being re-read cannot tell about the rest of the suite."""
        wanted = sorted(names)
        out: list[tuple[Key, str]] = []
        query = select(
            Package.component, Package.kind, Package.name, Package.architecture, Package.version
        ).where(Package.suite_id == self.sid, open_now(Package))
        for i in range(0, len(wanted), NAME_CHUNK):
            rows = self.session.execute(query.where(Package.name.in_(wanted[i : i + NAME_CHUNK])))
            for component, kind, name, arch, version in rows:
                if (component, kind) not in scopes:
                    out.append(((kind, name, arch), version))
        return out

    def packages(self, scope: Scope, change: ScopeChange) -> None:
        """Close the rows the change drops and insert the records it adds."""
        self.close(Package, change.close)
        if scope[1] == "dsc":
            self._insert_sources(scope[0], change.add)
        else:
            bulk_insert(
                self.session,
                "package",
                DEB_COLUMNS,
                [self._row(scope, digest, r) for digest, r in change.add],
            )

    def _row(self, scope: Scope, digest: int, r: PackageRecord) -> tuple[Any, ...]:
        component, kind = scope
        return (
            self.sid,
            component,
            kind,
            r.name,
            r.version,
            r.architecture,
            r.filename,
            r.sha256,
            r.size,
            self.vid,
            digest,
        )

    def _insert_sources(self, component: str, add: list[tuple[int, PackageRecord]]) -> None:
        first = next_ids(self.session, "package", len(add))
        packages: list[tuple[Any, ...]] = []
        files: list[tuple[Any, ...]] = []
        for pid, (digest, r) in enumerate(add, start=first):
            packages.append((pid, *self._row((component, "dsc"), digest, r)))
            files += [(pid, path, sha, size) for path, sha, size in r.files]
        bulk_insert(self.session, "package", DSC_COLUMNS, packages)
        bulk_insert(self.session, "source_file", SOURCE_FILE_COLUMNS, files)

    def drop(self) -> None:
        """Close the suite's files and Release (its packages are closed by scope)."""
        for model in (IndexFile, SuiteRelease):
            self.session.execute(
                update(model)
                .where(model.suite_id == self.sid, open_now(model))
                .values(removed=self.vid)
            )

    def close(self, model: type[IndexFile] | type[Package], ids: Iterable[int]) -> None:
        """Set ``removed`` of rows ``ids``."""
        ids = list(ids)
        for i in range(0, len(ids), CHUNK):
            self.session.execute(
                update(model).where(model.id.in_(ids[i : i + CHUNK])).values(removed=self.vid)
            )
