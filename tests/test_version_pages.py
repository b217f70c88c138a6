"""Pages of a version's packages on SQLite and PostgreSQL (versions/contents.py): when
the next rows by id do not fill a page, its ids come from the membership ranges' index
instead, and the pages must be the same either way, for an old and a new version, with
and without filters, to the last page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from repoversion import actions
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.versions import contents
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror
from tests.web import running

mirror_on_db = running.mirror_on_db


@pytest.fixture
def ctx(mirror_on_db: Mirror, fixture_archive: Any) -> Iterator[Context]:
    """Three versions: eight packages, then half of them upgraded, then the other half
    and two removed, so each version's rows are spread over the ids."""
    m = mirror_on_db
    names = [f"pkg{i}" for i in range(8)]
    arc = fixture_archive([Pkg(n, "1.0") for n in names] + [Pkg("doc", "1.0", "all")])
    m.add(arc)
    assert m.sync()["repoversion"] == "1.0.0"
    for n in names[::2]:
        arc.add(Pkg(n, "2.0"))
    arc.publish()
    assert m.sync()["repoversion"] == "1.1.0"
    for n in names[1::2]:
        arc.add(Pkg(n, "3.0"))
    arc.remove("pkg0")
    arc.remove("pkg3")
    arc.publish()
    assert m.sync()["repoversion"] == "2.0.0"
    context = Context(load_settings(m.home))
    yield context
    context.close()


def _walk(ctx: Context, ref: str, **filters: Any) -> list[dict[str, Any]]:
    """Every page of 2, cursor after cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = actions.packages(ctx, ref, limit=2, cursor=cursor, **filters)
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items


@pytest.mark.parametrize("probe", [True, False], ids=["next-rows", "from-the-index"])
def test_pages_are_the_same_whichever_way_they_are_found(
    ctx: Context, probe: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not probe:  # no row is looked at by id first: every page comes from the index
        monkeypatch.setattr(contents, "PROBE", 0)
        monkeypatch.setattr(contents, "PROBE_MIN", 1)
    for ref in ("1.0.0", "1.1.0", "2.0.0"):
        whole = actions.packages(ctx, ref)["items"]
        assert _walk(ctx, ref) == whole
        assert _walk(ctx, ref, arch="all") == [p for p in whole if p["architecture"] == "all"]
        assert _walk(ctx, ref, archive="nope") == []
    latest = {(p["name"], p["version"]) for p in actions.packages(ctx, "2.0.0")["items"]}
    assert latest == {
        ("doc", "1.0"),
        ("pkg1", "3.0"),
        ("pkg2", "2.0"),
        ("pkg4", "2.0"),
        ("pkg5", "3.0"),
        ("pkg6", "2.0"),
        ("pkg7", "3.0"),
    }
