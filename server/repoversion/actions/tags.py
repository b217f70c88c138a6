"""Tags: movable names for repoversions, with their history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.versions import tags

Progress = Callable[[str, int, int], None]


def set_tag(ctx: Context, name: str, ref: str) -> tags.TagMove:
    """Point tag ``name`` at the version ``ref`` names."""
    with transaction(ctx.sessions) as s:
        return tags.set_tag(s, name, ref, ctx.settings.clock())


def delete_tag(ctx: Context, name: str) -> str:
    """Delete tag ``name``; returns the version it named."""
    with transaction(ctx.sessions) as s:
        return tags.delete_tag(s, name, ctx.settings.clock())


def list_tags(ctx: Context) -> list[dict[str, Any]]:
    """Every tag, ``latest`` first (``tags --json``)."""
    with transaction(ctx.sessions) as s:
        return [t.to_json() for t in tags.list_tags(s)]


def tag_history(ctx: Context, name: str) -> list[dict[str, Any]]:
    """Every move of tag ``name``, oldest first."""
    with transaction(ctx.sessions) as s:
        return tags.tag_history(s, name)
