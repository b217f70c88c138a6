"""``/versions``: repoversions, one version's ``index.json``, its packages, a diff."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import context, errors, reply, resource
from repoversion.web.api.params import (
    DiffPath,
    DiffQuery,
    PackagesQuery,
    RefPath,
    VersionsQuery,
)
from repoversion.web.api.schemas import Diff, IndexJson, PackagePage, VersionPage

bp = resource("versions", "Repoversions: list, inspect, list packages, diff.")

#: a ref that names nothing (404) or a deleted version (410)
UNKNOWN = errors(404, 410)


@bp.get("/versions", responses={200: VersionPage})
def list_versions(query: VersionsQuery) -> Response:
    """Kept repoversions, newest first, a page at a time.

    Pass the answer's `next` as `cursor` for the next page; it is null on the last one.
    """
    return reply(actions.list_versions_page(context(), query.limit, query.cursor))


@bp.get("/versions/<ref>", responses={200: IndexJson, **UNKNOWN})
def show_version(path: RefPath) -> Response:
    """One repoversion's `index.json`: its files, archives, parent and change counts."""
    return reply(actions.show_version(context(), path.ref))


@bp.get("/versions/<ref>/packages", responses={200: PackagePage, **UNKNOWN})
def list_packages(path: RefPath, query: PackagesQuery) -> Response:
    """The binary and source packages of a repoversion, filtered, a page at a time."""
    page = actions.packages(
        context(),
        path.ref,
        name=query.name,
        arch=query.arch,
        archive=query.archive,
        suite=query.suite,
        limit=query.limit,
        cursor=query.cursor,
    )
    return reply(page)


@bp.get("/versions/<a>/diff/<b>", responses={200: Diff, **UNKNOWN})
def diff(path: DiffPath, query: DiffQuery) -> Response:
    """Packages added, removed, upgraded and downgraded from `a` to `b`."""
    return reply(actions.diff(context(), path.a, path.b, summary=query.summary))
