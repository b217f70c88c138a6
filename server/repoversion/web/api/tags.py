"""``/tags``: movable names for repoversions, and each one's history."""

from __future__ import annotations

from flask import Response

from repoversion import actions
from repoversion.web.api.common import TOKEN, context, errors, needs, no_content, reply, resource
from repoversion.web.api.params import NamePath, TagBody
from repoversion.web.api.schemas import TagHistory, TagList, TagMove

bp = resource("tags", "Tags: `latest` is built in; every move is kept.")


@bp.get("/tags", responses={200: TagList})
def list_tags() -> Response:
    """Every tag, `latest` first, with its version and when it last moved."""
    return reply(actions.list_tags(context()))


@bp.put("/tags/<name>", responses={200: TagMove, **errors(400, 404, 409, 410)}, security=TOKEN)
@needs("write")
def set_tag(path: NamePath, body: TagBody) -> Response:
    """Point a tag at the version a ref names, creating it if needed."""
    move = actions.set_tag(context(), path.name, body.repoversion)
    return reply({**move.tag.to_json(), "previous": move.previous, "changed": move.changed})


@bp.delete("/tags/<name>", responses={204: None, **errors(404)}, security=TOKEN)
@needs("write")
def delete_tag(path: NamePath) -> Response:
    """Delete a tag; its history keeps the deletion."""
    actions.delete_tag(context(), path.name)
    return no_content()


@bp.get("/tags/<name>/history", responses={200: TagHistory, **errors(404)})
def tag_history(path: NamePath) -> Response:
    """Every move of a tag, oldest first (a null `repoversion` marks a deletion)."""
    return reply(actions.tag_history(context(), path.name))
