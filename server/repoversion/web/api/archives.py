"""``/archives``: the upstream archives to mirror (changing them needs an admin token)."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import (
    PREFIX,
    TOKEN,
    context,
    errors,
    needs,
    no_content,
    reply,
    resource,
)
from repoversion.web.api.params import ArchiveBody, ArchiveEditBody, NamePath
from repoversion.web.api.schemas import Archive, ArchiveDetail, ArchiveList

bp = resource("archives", "Upstream archives: what a sync mirrors.")


@bp.get("/archives", responses={200: ArchiveList})
def list_archives() -> Response:
    """Every configured archive, by name."""
    return reply(actions.list_archives(context()))


@bp.get("/archives/<name>", responses={200: ArchiveDetail, **errors(404)})
def show_archive(path: NamePath) -> Response:
    """One archive, with its keyring's fingerprints."""
    return reply(actions.show_archive(context(), path.name))


@bp.post("/archives", responses={201: Archive, **errors(400, 409)}, security=TOKEN)
@needs("admin")
def add_archive(body: ArchiveBody) -> Response:
    """Add an upstream archive (as `repoversion archive add`); the next sync mirrors it."""
    added = actions.add_archive(context(), body.to_spec())
    return reply(added, 201, {"Location": f"{PREFIX}/archives/{added['name']}"})


@bp.patch("/archives/<name>", responses={200: Archive, **errors(400, 404)}, security=TOKEN)
@needs("admin")
def edit_archive(path: NamePath, body: ArchiveEditBody) -> Response:
    """Replace the fields given (as `repoversion archive edit`); the next sync uses them."""
    return reply(actions.edit_archive(context(), path.name, body.changes()))


@bp.delete("/archives/<name>", responses={204: None, **errors(404)}, security=TOKEN)
@needs("admin")
def remove_archive(path: NamePath) -> Response:
    """Forget an archive; the next sync drops it, versions already made keep serving it."""
    actions.remove_archive(context(), path.name)
    return no_content()
