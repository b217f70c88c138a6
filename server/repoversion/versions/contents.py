"""What a repoversion holds: membership, defined once, and the queries built on it.

Membership is kept as ranges (see :mod:`repoversion.db.models`): a row of a range table
(:class:`Package`, :class:`IndexFile`, :class:`SuiteRelease`) belongs to version ``V``
when ``added <= V`` and (``removed`` is NULL or ``V < removed``); it is *open* (in the
newest version, and whatever the next commit starts from) when ``removed`` is NULL.
Every module that asks "what does version V hold" goes through :func:`member_of` or
:func:`open_now`; so does the other question, "which versions held this row"
(:func:`history_of`), by joining on the same predicate written as a range of version
ids (:func:`held_by`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ColumnElement

from repoversion.db.models import IndexFile, Package, Repoversion, SourceFile, Suite, SuiteRelease
from repoversion.storage.base import BlobRef

RangeTable = type[Package] | type[IndexFile] | type[SuiteRelease]
#: above every version id (the largest 32-bit integer)
NO_END = 2**31 - 1
#: rows by id a page is looked for among first, per row asked, and at least (see
#: :func:`packages_of`)
PROBE, PROBE_MIN = 20, 20_000
#: above every row id
NO_ROW = 2**63 - 1


def member_of(table: RangeTable, vid: int | InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Rows of ``table`` that belong to repoversion ``vid``.

    :param vid: a version's id, or a column of ids (``Repoversion.id``) to join on.
    """
    return and_(table.added <= vid, or_(table.removed.is_(None), table.removed > vid))


def held_by(table: RangeTable, vid: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """:func:`member_of` for a join on a column of version ids (``Repoversion.id``),
    written as the range ``added <= vid < removed`` (no ``removed``: no upper end) that
    the column's index reads in one go: a row then costs the versions that held it, not
    every version after it."""
    return and_(vid >= table.added, vid < func.coalesce(table.removed, NO_END))


def open_now(table: RangeTable) -> ColumnElement[bool]:
    """Rows of ``table`` open in the newest version (not yet removed)."""
    return table.removed.is_(None)


COLUMNS = (
    Package.name,
    Package.version,
    Package.architecture,
    Suite.archive,
    Suite.name,
    Package.component,
    Package.filename,
    Package.sha256,
    Package.size,
)


def _row(r: Any) -> dict[str, Any]:
    return {
        "name": r[0],
        "version": r[1],
        "architecture": r[2],
        "archive": r[3],
        "suite": r[4],
        "component": r[5],
        "filename": r[6],
        "sha256": r[7],
        "size": r[8],
    }


def can_match(*values: str | None) -> bool:
    """False when a filter holds what no stored value can: a NUL byte or a lone surrogate
    (from a URL) would be an error for the database driver, not just no match.

    >>> can_match("openssl", None), can_match("a\\x00b"), can_match("\\udc80")
    (True, False, False)
    """
    for value in values:
        if value is None:
            continue
        if "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def packages_of(
    session: Session,
    vid: int,
    *,
    name: str | None = None,
    arch: str | None = None,
    archive: str | None = None,
    suite: str | None = None,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Packages (binary and source) of repoversion ``vid``, ordered by row id, as
    (row id, JSON object of SPEC section 4).

    A page (``limit``) is looked for first among the next rows by id (:data:`PROBE` per
    row asked, at least :data:`PROBE_MIN`), where an old version's rows are. When they do
    not fill it (a newer version's rows are spread over the ids of everything added
    since, most of them closed by now), the ids of all the version's rows are read from
    the membership ranges' index, its open rows and its closed ones apart, and the page
    is the first of them: a page never costs a walk over the rows of every version in
    between.
    """
    if not can_match(name, arch, archive, suite):
        return []
    where = []
    if name is not None:
        where.append(Package.name == name)
    if arch is not None:
        where.append(Package.architecture == arch)
    if archive is not None:
        where.append(Suite.archive == archive)
    if suite is not None:
        where.append(Suite.name == suite)
    if after_id is not None:
        where.append(Package.id > after_id)
    q = select(Package.id, *COLUMNS).join(Suite, Suite.id == Package.suite_id).order_by(Package.id)
    member = member_of(Package, vid)
    if limit is None or name is not None:  # all of them, or a few rows found by name
        return _listed(session, q.where(member, *where).limit(limit))
    end = (
        select(Package.id)
        .where(Package.id > (after_id if after_id is not None else -1))
        .order_by(Package.id)
        .offset(max(PROBE * limit, PROBE_MIN) - 1)
        .limit(1)
        .scalar_subquery()
    )
    probe = q.where(member, *where, Package.id <= func.coalesce(end, NO_ROW)).limit(limit)
    found = _listed(session, probe)
    if len(found) == limit or session.scalar(select(end)) is None:
        return found  # a full page, or every row after the cursor was looked at
    suites = list(session.scalars(select(Suite.id)))
    ids = (
        union_all(
            *(
                select(Package.id)
                .join(Suite, Suite.id == Package.suite_id)
                .where(Package.suite_id.in_(suites), Package.added <= vid, held, *where)
                for held in (Package.removed.is_(None), Package.removed > vid)
            )
        )
        .cte("members")
        .prefix_with("MATERIALIZED")  # every id, then the page: never a walk in id order
    )
    page = select(ids.c.id).order_by(ids.c.id).limit(limit).subquery()
    return _listed(session, q.join(page, page.c.id == Package.id))


def _listed(session: Session, query: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(r[0], _row(r[1:])) for r in session.execute(query)]


#: (version, architecture, archive, suite): one line of a package's history
HistoryKey = tuple[str, str, str, str]


def history_of(
    session: Session, name: str, *, version: str | None = None, arch: str | None = None
) -> list[dict[str, Any]]:
    """Each (version, architecture, archive, suite) of package ``name`` with the kept
    (not dropped) repoversions that held it, oldest first.

    One query, whatever the number of versions: the package's rows (by name) joined to
    the repoversions each one is a member of. A line held by dropped versions only is
    left out. Lines are ordered by the first version that held them.

    :param version: only this version of the package (e.g. ``3.0.15-1~deb12u1``).
    :param arch: only this architecture (``source`` for the source package).
    """
    if not can_match(name, version, arch):
        return []
    q = (
        select(
            Package.version,
            Package.architecture,
            Suite.archive,
            Suite.name,
            Repoversion.id,
            Repoversion.version,
        )
        .join(Suite, Suite.id == Package.suite_id)
        .join(Repoversion, held_by(Package, Repoversion.id))
        .where(Package.name == name, Repoversion.dropped.is_(None))
        .order_by(Repoversion.id)
    )
    if version is not None:
        q = q.where(Package.version == version)
    if arch is not None:
        q = q.where(Package.architecture == arch)
    held: dict[HistoryKey, list[str]] = {}
    first: dict[HistoryKey, int] = {}
    for pkg_version, pkg_arch, archive, suite, vid, repoversion in session.execute(q):
        key = (pkg_version, pkg_arch, archive, suite)
        versions = held.setdefault(key, [])
        first.setdefault(key, vid)
        # two rows of one line (e.g. in two components) name a version twice
        if not versions or versions[-1] != repoversion:
            versions.append(repoversion)
    # sorted here, not in SQL: the databases collate text differently
    order = sorted(held, key=lambda k: (first[k], k[2], k[3], k[1], k[0]))
    return [
        {
            "name": name,
            "version": key[0],
            "architecture": key[1],
            "archive": key[2],
            "suite": key[3],
            "repoversions": held[key],
        }
        for key in order
    ]


def pool_file(session: Session, vid: int, archive: str, path: str) -> BlobRef | None:
    """The pool file ``path`` of ``archive`` in repoversion ``vid``: a package's file, or
    any file of a source package (None when the version has no such file).

    :param path: e.g. ``pool/main/h/hello/hello_1.0_amd64.deb``.
    """
    row = session.execute(
        select(Package.sha256, Package.size)
        .join(Suite, Suite.id == Package.suite_id)
        .where(Package.filename == path, Suite.archive == archive, member_of(Package, vid))
        .limit(1)
    ).first()
    if row is None:
        row = session.execute(
            select(SourceFile.sha256, SourceFile.size)
            .join(Package, Package.id == SourceFile.package_id)
            .join(Suite, Suite.id == Package.suite_id)
            .where(SourceFile.path == path, Suite.archive == archive, member_of(Package, vid))
            .limit(1)
        ).first()
    return None if row is None else BlobRef(row[0], row[1])


def pool_files(session: Session, vid: int) -> list[tuple[str, str, str, int]]:
    """(archive, pool path, sha256, size) of every file of every binary and source
    package of repoversion ``vid`` (a file may appear more than once)."""
    debs = session.execute(
        select(Suite.archive, Package.filename, Package.sha256, Package.size)
        .join(Suite, Suite.id == Package.suite_id)
        .where(member_of(Package, vid))
    )
    sources = session.execute(
        select(Suite.archive, SourceFile.path, SourceFile.sha256, SourceFile.size)
        .join(Package, Package.id == SourceFile.package_id)
        .join(Suite, Suite.id == Package.suite_id)
        .where(member_of(Package, vid))
    )
    return [(a, p, s, n) for a, p, s, n in (*debs, *sources)]


def release_fields(session: Session, vid: int, archive: str, suite: str) -> dict[str, Any] | None:
    """The upstream Release summary a suite had in repoversion ``vid`` (``summary``,
    ``fields`` and ``entries``, as the sync recorded them), or None."""
    fields: dict[str, Any] | None = session.scalar(
        select(SuiteRelease.fields)
        .join(Suite, Suite.id == SuiteRelease.suite_id)
        .where(Suite.archive == archive, Suite.name == suite, member_of(SuiteRelease, vid))
        .limit(1)
    )
    return fields
