"""What the newest repoversion holds, read as a sync needs it.

A sync computes its change against the newest version (its *base*): which index files
each suite serves and the date of its Release, and for a scope whose indices changed,
which stanzas it already has. Every query reads open rows (:func:`.contents.open_now`),
each in a short transaction of its own, so the database is not held while indices
download and decode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from repoversion.db.bulk import fetch_rows
from repoversion.db.models import Blob, IndexFile, Package, Repoversion, Suite, SuiteRelease
from repoversion.db.session import transaction
from repoversion.storage.base import BlobStore
from repoversion.timefmt import utc
from repoversion.versions import stanzasets
from repoversion.versions.contents import open_now
from repoversion.versions.snapshot import Scope

#: values in one ``IN (…)``: SQLite takes up to 32,766 parameters, PostgreSQL 65,535
IN_CHUNK = 5000


@dataclass
class SuiteState:
    """One (archive, suite) in the base version.

    :ivar date: its Release's Date (None when unknown).
    :ivar files: served path → (sha256, size).
    :ivar codename: its Release's Codename (None when it had none).
    :ivar suite: its Release's Suite (None when it had none).
    """

    date: datetime | None
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    codename: str | None = None
    suite: str | None = None


@dataclass
class Base:
    """The newest version when a sync starts.

    :ivar id: its id (None before the first version).
    :ivar suites: its suites by (archive, suite).
    """

    id: int | None
    suites: dict[tuple[str, str], SuiteState]


def read_base(sessions: sessionmaker[Session]) -> Base:
    """The newest version's id, suites, served files and Release dates and names."""
    with transaction(sessions) as s:
        base_id = s.scalar(select(func.max(Repoversion.id)))
        suites: dict[tuple[str, str], SuiteState] = {}
        for arc, name, date, fields in s.execute(
            select(Suite.archive, Suite.name, SuiteRelease.date, SuiteRelease.fields)
            .join(SuiteRelease, SuiteRelease.suite_id == Suite.id)
            .where(open_now(SuiteRelease))
        ):
            summary = fields.get("summary", {})
            suites[(arc, name)] = SuiteState(
                utc(date) if date else None,
                codename=summary.get("codename"),
                suite=summary.get("suite"),
            )
        for arc, name, path, sha, size in s.execute(
            select(Suite.archive, Suite.name, IndexFile.path, IndexFile.sha256, IndexFile.size)
            .join(Suite, Suite.id == IndexFile.suite_id)
            .where(open_now(IndexFile))
        ):
            suites.setdefault((arc, name), SuiteState(None)).files[path] = (sha, size)
    return Base(base_id, suites)


def recorded_blobs(sessions: sessionmaker[Session], digests: list[str]) -> set[str]:
    """Which of ``digests`` are recorded as stored blobs."""
    found: set[str] = set()
    with transaction(sessions) as s:
        for i in range(0, len(digests), 500):
            found.update(
                s.scalars(select(Blob.sha256).where(Blob.sha256.in_(digests[i : i + 500])))
            )
    return found


class ScopeRows:
    """The open package rows of one scope (component, kind) of one suite.

    :param sessions: the session factory.
    :param store: the blob store (stanza sets live there).
    """

    def __init__(self, sessions: sessionmaker[Session], store: BlobStore) -> None:
        self.sessions = sessions
        self.store = store

    def _scope(self, archive: str, suite: str, scope: Scope) -> Any:
        component, kind = scope
        return (
            select(Package.id)
            .join(Suite, Suite.id == Package.suite_id)
            .where(
                Suite.archive == archive,
                Suite.name == suite,
                Package.component == component,
                Package.kind == kind,
                open_now(Package),
            )
        )

    def digests(self, archive: str, suite: str, scope: Scope) -> dict[int | None, list[int]]:
        """Open rows of a scope by stanza digest (two integers a row).

        Read through the driver: 60,000 ORM rows cost more than the rest of a re-sync.
        """
        out: dict[int | None, list[int]] = {}
        query = self._scope(archive, suite, scope).add_columns(Package.stanza)
        with self.sessions() as s:
            for pid, digest in fetch_rows(s, query):
                out.setdefault(digest, []).append(pid)
        return out

    def stanza_set(
        self, archive: str, suite: str, scope: Scope, base_id: int | None
    ) -> set[int] | None:
        """The base version's stanza set of the scope, if it has one."""
        if base_id is None:
            return None
        with self.sessions() as s:
            suite_id = s.scalar(
                select(Suite.id).where(Suite.archive == archive, Suite.name == suite)
            )
            if suite_id is None:
                return None
            return stanzasets.load(s, self.store, base_id, suite_id, scope)

    def with_digests(
        self, archive: str, suite: str, scope: Scope, digests: set[int]
    ) -> list[tuple[Any, ...]]:
        """(id, name, version, arch, sha256) of the scope's open rows with these digests."""
        wanted = sorted(digests)
        rows: list[tuple[Any, ...]] = []
        base = self._scope(archive, suite, scope).add_columns(
            Package.name, Package.version, Package.architecture, Package.sha256
        )
        with self.sessions() as s:
            for i in range(0, len(wanted), IN_CHUNK):
                rows += fetch_rows(s, base.where(Package.stanza.in_(wanted[i : i + IN_CHUNK])))
        return rows

    def named(
        self, archive: str, suite: str, scope: Scope, ids: list[int], names: set[str]
    ) -> list[tuple[Any, ...]]:
        """(id, name, version, arch, sha256) of every open row of the scope named like
        ``names`` or like the rows ``ids``: all a diff needs, without reading the rest."""
        # By name alone, filtered here: with the scope's terms in the query SQLite walks
        # the suite's open rows (ix_package_range) instead of looking the few names up.
        component, kind = scope
        query = select(
            Package.id,
            Package.name,
            Package.version,
            Package.architecture,
            Package.sha256,
            Package.component,
            Package.kind,
            Package.removed,
            Suite.archive,
            Suite.name,
        ).join(Suite, Suite.id == Package.suite_id)
        names = set(names)
        rows: list[tuple[Any, ...]] = []
        with self.sessions() as s:
            for i in range(0, len(ids), IN_CHUNK):
                names.update(
                    s.scalars(select(Package.name).where(Package.id.in_(ids[i : i + IN_CHUNK])))
                )
            wanted = sorted(names)
            want = (component, kind, None, archive, suite)
            for i in range(0, len(wanted), IN_CHUNK):
                chunk: Any = query.where(Package.name.in_(wanted[i : i + IN_CHUNK]))
                rows += [r[:5] for r in fetch_rows(s, chunk) if r[5:] == want]
        return rows
