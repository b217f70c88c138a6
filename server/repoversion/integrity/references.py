"""What the database expects the blob store to hold, and what needs a given blob.

A blob is **expected** (missing from the store, it is reported) when:

- a ``blob`` row records it (rows are written once a blob is stored and verified);
- a kept (not dropped) version serves it as an index file (``index_file``) or it is a
  kept version's ``index.json``;
- a kept version holds it as a pool file (``package``, ``source_file``) of an archive
  whose policy is ``immediate``. Under ``on_demand`` a pool file is stored on its first
  request, so one nobody asked for is not missing (one that was fetched has a blob row);
- a ``derived`` row names it (generated Releases, ``packages.json``, stanza sets, stored
  lockfiles).

Upstream's own Release (``suite_release``) is stored only in ``verbatim`` mode, where it
is one of the suite's served files and so checked as an index file.

:func:`needs_of` then says, for the few blobs found bad, everything that needs each one
and where upstream has it, which is what a repair works from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from repoversion.db.models import (
    Archive,
    Blob,
    DerivedBlobs,
    IndexFile,
    Package,
    Repoversion,
    SourceFile,
    Suite,
)
from repoversion.versions.contents import RangeTable, member_of

#: rows fetched at a time while streaming digests
STREAM = 10_000
#: digests in one ``IN (…)``
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Need:
    """One thing in the database that needs a blob.

    :ivar kind: ``blob row``, ``pool`` (a package's file), ``index`` (a file under
        ``dists/``), ``index.json`` or ``derived``.
    :ivar size: the size it records.
    :ivar archive: the archive (``pool``, ``index``).
    :ivar suite: the suite (``index``).
    :ivar path: under the archive's root (``pool``) or under ``dists/<suite>/`` (``index``).
    :ivar vid: the newest kept version holding it (``pool``, ``index``, ``index.json``).
    :ivar name: the version's number (``index.json``) or the derived row's key.
    """

    kind: str
    size: int | None = None
    archive: str = ""
    suite: str = ""
    path: str = ""
    vid: int | None = None
    name: str = ""

    def describe(self) -> str:
        """What needs the blob, for people: ``debian: pool/main/h/hello/…``."""
        if self.kind == "pool":
            return f"{self.archive}: {self.path}"
        if self.kind == "index":
            return f"{self.archive}: dists/{self.suite}/{self.path}"
        if self.kind == "index.json":
            return f"the index.json of repoversion {self.name}"
        if self.kind == "derived":
            return f"the generated {self.name}"
        return "its blob row"


def kept(table: RangeTable) -> ColumnElement[bool]:
    """Rows of ``table`` held by at least one kept (not dropped) repoversion."""
    return exists().where(Repoversion.dropped.is_(None), member_of(table, Repoversion.id))


def newest_kept(table: RangeTable) -> ScalarSelect[Any]:
    """The newest kept repoversion holding a row of ``table`` (NULL when none does)."""
    return (
        select(func.max(Repoversion.id))
        .where(Repoversion.dropped.is_(None), member_of(table, Repoversion.id))
        .scalar_subquery()
    )


def _immediate(query: Select[Any]) -> Select[Any]:
    return (
        query.join(Suite, Suite.id == Package.suite_id)
        .join(Archive, Archive.name == Suite.archive)
        .where(Archive.policy == "immediate", kept(Package))
    )


def expected_digests(session: Session) -> Iterator[str]:
    """Every digest the store must hold (see the module docstring), streamed; a digest
    may come more than once."""
    queries: list[Select[Any]] = [
        select(Blob.sha256),
        select(IndexFile.sha256).where(kept(IndexFile)),
        select(Repoversion.index_sha256).where(Repoversion.dropped.is_(None)),
        _immediate(select(Package.sha256)),
        _immediate(select(SourceFile.sha256).join(Package, Package.id == SourceFile.package_id)),
    ]
    for query in queries:
        yield from session.scalars(query.execution_options(yield_per=STREAM))
    for _key_hash, _key, refs in derived_rows(session):
        for sha256, _size in refs:
            yield sha256


def derived_rows(session: Session) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """Every ``derived`` row: (key hash, key, [(sha256, size) of each blob it names])."""
    rows = session.execute(select(DerivedBlobs.key_hash, DerivedBlobs.key, DerivedBlobs.blobs))
    return [
        (key_hash, key, [(str(ref[0]), int(ref[1])) for ref in blobs.values()])
        for key_hash, key, blobs in rows
    ]


def needs_of(session: Session, digests: Iterable[str]) -> dict[str, list[Need]]:
    """Everything that needs each of ``digests`` (a few: the bad ones), kept versions only.

    :returns: digest → needs (an empty list: nothing needs it).
    """
    wanted = sorted(set(digests))
    found: dict[str, list[Need]] = {d: [] for d in wanted}
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i : i + CHUNK]
        for sha256, need in _needs_in(session, chunk):
            if need not in found[sha256]:
                found[sha256].append(need)
    chosen = set(wanted)
    for _key_hash, key, refs in derived_rows(session):
        for sha256, size in refs:
            if sha256 in chosen:
                found[sha256].append(Need("derived", size, name=key))
    return found


def _needs_in(session: Session, chunk: list[str]) -> Iterator[tuple[str, Need]]:
    for sha256, size in session.execute(
        select(Blob.sha256, Blob.size).where(Blob.sha256.in_(chunk))
    ):
        yield sha256, Need("blob row", size)
    pool = (
        select(Package.sha256, Package.size, Suite.archive, Package.filename, newest_kept(Package))
        .join(Suite, Suite.id == Package.suite_id)
        .where(Package.sha256.in_(chunk))
    )
    sources = (
        select(
            SourceFile.sha256,
            SourceFile.size,
            Suite.archive,
            SourceFile.path,
            newest_kept(Package),
        )
        .join(Package, Package.id == SourceFile.package_id)
        .join(Suite, Suite.id == Package.suite_id)
        .where(SourceFile.sha256.in_(chunk))
    )
    for query in (pool, sources):
        for sha256, size, archive, path, vid in session.execute(query):
            if vid is not None:
                yield sha256, Need("pool", size, archive, path=path, vid=vid)
    indices = (
        select(
            IndexFile.sha256,
            IndexFile.size,
            Suite.archive,
            Suite.name,
            IndexFile.path,
            newest_kept(IndexFile),
        )
        .join(Suite, Suite.id == IndexFile.suite_id)
        .where(IndexFile.sha256.in_(chunk))
    )
    for sha256, size, archive, suite, path, vid in session.execute(indices):
        if vid is not None:
            yield sha256, Need("index", size, archive, suite, path, vid)
    for sha256, version, vid in session.execute(
        select(Repoversion.index_sha256, Repoversion.version, Repoversion.id).where(
            Repoversion.index_sha256.in_(chunk), Repoversion.dropped.is_(None)
        )
    ):
        yield sha256, Need("index.json", None, vid=vid, name=version)
