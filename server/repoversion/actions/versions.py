"""Reading repoversions: listings, one version, packages, history, diff."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput
from repoversion.versions import refs

Progress = Callable[[str, int, int], None]


def list_versions(ctx: Context) -> list[dict[str, Any]]:
    """Kept versions, newest first (``versions --json``)."""
    with transaction(ctx.sessions) as s:
        return refs.list_versions(s)


def show_version(ctx: Context, ref: str) -> dict[str, Any]:
    """The ``index.json`` of the version ``ref`` names."""
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, ref)
    return refs.read_index(ctx.store, version)


def list_versions_page(ctx: Context, limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of kept versions, newest first: ``{"items": [...], "next": cursor|None}``.

    :param limit: 1 to :data:`PAGE_MAX` versions.
    :param cursor: the ``next`` of the previous page, None for the first.
    :raises InvalidInput: a bad limit or a cursor this listing did not give.
    """
    before = _cursor_key("v", cursor)
    with transaction(ctx.sessions) as s:
        items, more = refs.versions_page(s, _page_limit(limit), before)
    return {"items": items, "next": None if more is None else _cursor("v", more)}


def diff(ctx: Context, ref_a: str, ref_b: str, summary: bool = False) -> dict[str, Any]:
    """The ``diff --json`` object from ``ref_a`` to ``ref_b``.

    :param summary: only ``from``, ``to`` and ``counts``.
    """
    from repoversion.versions.diff import diff_versions

    with transaction(ctx.sessions) as s:
        a, b = refs.resolve_ref(s, ref_a), refs.resolve_ref(s, ref_b)
        return diff_versions(s, a, b, summary=summary)


def packages(
    ctx: Context,
    ref: str,
    *,
    name: str | None = None,
    arch: str | None = None,
    archive: str | None = None,
    suite: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Packages (binary and source) of the version ``ref`` names, in a stable order:
    ``{"items": [package objects of SPEC section 4], "next": cursor|None}``.

    :param limit: at most this many (1 to :data:`PAGE_MAX`); None: all of them.
    :param cursor: the ``next`` of the previous page, None for the first.
    :raises NotFound: ``ref`` names nothing.
    :raises InvalidInput: a bad limit or cursor.
    """
    from repoversion.versions.contents import packages_of

    after = _cursor_key("p", cursor)
    size = None if limit is None else _page_limit(limit)
    with transaction(ctx.sessions) as s:
        version = refs.resolve_ref(s, ref)
        rows = packages_of(
            s,
            version.id,
            name=name,
            arch=arch,
            archive=archive,
            suite=suite,
            limit=None if size is None else size + 1,
            after_id=after,
        )
    if size is None or len(rows) <= size:
        return {"items": [p for _, p in rows], "next": None}
    return {"items": [p for _, p in rows[:size]], "next": _cursor("p", rows[size - 1][0])}


def history(
    ctx: Context, name: str, *, version: str | None = None, arch: str | None = None
) -> list[dict[str, Any]]:
    """Each (version, architecture, archive, suite) of package ``name`` with the kept
    repoversions that held it, oldest first (``[]`` when none did)."""
    from repoversion.versions.contents import history_of

    with transaction(ctx.sessions) as s:
        return history_of(s, name, version=version, arch=arch)


#: the most items one page of a listing holds
PAGE_MAX = 1000
#: a cursor's key is a row id; more digits than this cannot be one (and would overflow)
_KEY_DIGITS = 18


def _page_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"The limit must be a whole number from 1 to {PAGE_MAX}, got {limit!r}.")
    return limit


def _cursor(kind: str, key: int) -> str:
    """An opaque cursor: clients pass it back, never build it."""
    return base64.urlsafe_b64encode(f"{kind}{key}".encode()).decode().rstrip("=")


def _cursor_key(kind: str, cursor: str | None) -> int | None:
    """The row id a cursor of listing ``kind`` holds.

    :raises InvalidInput: not a cursor that listing gave.
    """
    if cursor is None:
        return None
    raw = ""
    if len(cursor) <= 2 * _KEY_DIGITS and cursor.isascii():
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            raw = ""
    key = raw[len(kind) :]
    if not raw.startswith(kind) or not key.isdigit() or len(key) > _KEY_DIGITS:
        raise InvalidInput(f"Cursor {cursor!r} is not one this listing gave.")
    return int(key)
