"""``/packages/<name>/history``: which repoversions held each version of a package."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import context, reply, resource
from repoversion.web.api.params import HistoryQuery, NamePath
from repoversion.web.api.schemas import History

bp = resource("packages", "Packages across repoversions.")


@bp.get("/packages/<name>/history", responses={200: History})
def history(path: NamePath, query: HistoryQuery) -> Response:
    """Each (version, architecture) of a package and the repoversions that held it.

    An empty list when no kept repoversion ever held it.
    """
    found = actions.history(context(), path.name, version=query.version, arch=query.arch)
    return reply(found)
