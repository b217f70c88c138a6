"""``diff`` between repoversions on SQLite and PostgreSQL: what reading only the rows that
differ must still get right (versions/diff.py): a package listed in two versions where
one changes, a package that moves to another component, a downgrade, both directions,
the summary's counts equal to the whole diff's, and either way of finding the rows both
versions hold."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from repoversion import actions
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.versions import diff as diff_module
from tests.fixtures.archives import Pkg
from tests.mirror.conftest import Mirror
from tests.web import running

mirror_on_db = running.mirror_on_db


def _ident(name: str) -> dict[str, str]:
    return {"name": name, "architecture": "amd64", "archive": "debian", "suite": "bookworm"}


@pytest.fixture
def ctx(mirror_on_db: Mirror, fixture_archive: Any) -> Iterator[Context]:
    """1.0.0: hello 1.0, libfoo 2.0, multi 1.0 and 2.0 side by side, shrink 1.0 and 2.0
    side by side, mover 1.0 (main), gone 1.0. 2.0.0: hello 1.1, libfoo 1.9, multi 1.0
    and 3.0, shrink 1.0 alone (its newest goes down), mover 1.0 in contrib, new 0.1;
    gone removed."""
    m = mirror_on_db
    arc = fixture_archive(
        [Pkg("hello", "1.0"), Pkg("libfoo", "2.0"), Pkg("mover", "1.0"), Pkg("gone", "1.0")]
    )
    arc.add(Pkg("multi", "1.0"), replace=False)
    arc.add(Pkg("multi", "2.0"), replace=False)
    arc.add(Pkg("shrink", "1.0"), replace=False)
    arc.add(Pkg("shrink", "2.0"), replace=False)
    arc.options("bookworm").components = ["main", "contrib"]
    arc.publish()
    m.add(arc, components=("main", "contrib"))
    assert m.sync()["repoversion"] == "1.0.0"
    arc.add(Pkg("hello", "1.1"))
    arc.add(Pkg("libfoo", "1.9"))
    arc.remove("multi", version="2.0")
    arc.add(Pkg("multi", "3.0"), replace=False)
    arc.remove("shrink", version="2.0")
    arc.add(Pkg("mover", "1.0", component="contrib"))
    arc.remove("gone")
    arc.add(Pkg("new", "0.1"))
    arc.publish()
    assert m.sync()["repoversion"] == "2.0.0"
    context = Context(load_settings(m.home))
    yield context
    context.close()


EXPECTED = {
    "from": "1.0.0",
    "to": "2.0.0",
    "counts": {"added": 1, "removed": 1, "upgraded": 2, "downgraded": 2},
    "added": [{**_ident("new"), "version": "0.1"}],
    "removed": [{**_ident("gone"), "version": "1.0"}],
    "upgraded": [
        {**_ident("hello"), "from": "1.0", "to": "1.1"},
        {**_ident("multi"), "from": "2.0", "to": "3.0"},
    ],
    "downgraded": [
        {**_ident("libfoo"), "from": "2.0", "to": "1.9"},
        {**_ident("shrink"), "from": "2.0", "to": "1.0"},
    ],
}


def _backwards(diff: dict[str, Any]) -> dict[str, Any]:
    def swap(items: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**i, "from": i["to"], "to": i["from"]} for i in items]

    counts = diff["counts"]
    return {
        "from": diff["to"],
        "to": diff["from"],
        "counts": {
            "added": counts["removed"],
            "removed": counts["added"],
            "upgraded": counts["downgraded"],
            "downgraded": counts["upgraded"],
        },
        "added": diff["removed"],
        "removed": diff["added"],
        "upgraded": swap(diff["downgraded"]),
        "downgraded": swap(diff["upgraded"]),
    }


@pytest.mark.parametrize("few_names", [True, False], ids=["by-name", "read-whole"])
def test_diff_reads_only_what_differs_and_gets_it_right(
    ctx: Context, few_names: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not few_names:  # the rows both versions hold, read whole and filtered here
        monkeypatch.setattr(diff_module, "NAME_LOOKUP", 0)
    assert actions.diff(ctx, "1.0.0", "2.0.0") == EXPECTED
    assert actions.diff(ctx, "2.0.0", "1.0.0") == _backwards(EXPECTED)
    for a, b in (("1.0.0", "2.0.0"), ("2.0.0", "1.0.0")):
        whole = actions.diff(ctx, a, b)
        summary = actions.diff(ctx, a, b, summary=True)
        assert summary == {"from": a, "to": b, "counts": whole["counts"]}
    same = actions.diff(ctx, "2.0.0", "latest")
    assert same["counts"] == {"added": 0, "removed": 0, "upgraded": 0, "downgraded": 0}
    assert same["upgraded"] == same["added"] == same["removed"] == []
    assert actions.diff(ctx, "1.0.0", "1.0.0", summary=True)["counts"] == same["counts"]
