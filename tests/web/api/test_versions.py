"""GET /versions (cursor pages), /versions/<ref>, its packages, diffs, package history."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.archives import Pkg
from tests.web.api.conftest import PACKAGES, Api


def _walk(api: Api, path: str, limit: int, **query: str) -> list[list[dict[str, Any]]]:
    """Every page of a listing, following ``next`` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {**query, "limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = api.ok("GET", path, query_string=params)
        assert set(page) == {"items", "next"}
        pages.append(page["items"])
        cursor = page["next"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor walk does not end"


def test_versions_come_newest_first_a_page_at_a_time(api_db: Api) -> None:
    api = api_db
    for i in range(4):
        api.republish(Pkg(f"extra{i}", "1.0"))
    pages = _walk(api, "/versions", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    items = [v for page in pages for v in page]
    assert [v["repoversion"] for v in items] == ["1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    # the same objects as `versions --json`
    assert items == json.loads(api.mirror.cli("versions", "--json").stdout)
    first = api.ok("GET", "/versions")
    assert first["next"] is None and len(first["items"]) == 5


def test_bad_paging_parameters_are_422_naming_them(api: Api) -> None:
    assert "`limit`" in api.error("GET", "/versions?limit=0", 422)
    assert "`limit`" in api.error("GET", "/versions?limit=1001", 422)
    assert "`limit`" in api.error("GET", "/versions?limit=ten", 422)
    assert "Cursor" in api.error("GET", "/versions?cursor=bm9wZQ", 422)
    assert "Cursor" in api.error("GET", "/versions/latest/packages?cursor=xyz", 422)


def test_one_version_is_its_index_json_by_any_ref(api_db: Api) -> None:
    api = api_db
    index = api.ok("GET", "/versions/1.0.0")
    assert index == api.mirror.show("1.0.0")
    assert index["repoversion"] == "1.0.0" and index["parent"] is None
    assert set(index["archives"]["debian"]["suites"]) == {"bookworm"}
    assert api.ok("GET", "/versions/latest") == index
    assert api.ok("GET", "/versions/20250601T000000Z") == index


def test_unknown_refs_are_404(api: Api) -> None:
    assert "9.9.9" in api.error("GET", "/versions/9.9.9", 404)
    assert "nope" in api.error("GET", "/versions/nope", 404)
    api.error("GET", "/versions/20000101T000000Z", 404)
    api.error("GET", "/versions/bad%00ref", 404)
    api.error("GET", "/versions/9.9.9/packages", 404)
    api.error("GET", "/versions/1.0.0/diff/9.9.9", 404)
    api.error("GET", "/versions/nope/diff/1.0.0", 404)


def test_packages_come_a_page_at_a_time_and_filter(api_db: Api) -> None:
    api = api_db
    pages = _walk(api, "/versions/1.0.0/packages", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    items = [p for page in pages for p in page]
    assert sorted(p["name"] for p in items) == sorted(p.name for p in PACKAGES)
    hello = next(p for p in items if p["name"] == "hello")
    assert hello["version"] == "1.0" and hello["architecture"] == "amd64"
    assert hello["archive"] == "debian" and hello["suite"] == "bookworm"
    assert hello["component"] == "main" and hello["filename"].endswith("hello_1.0_amd64.deb")
    assert len(hello["sha256"]) == 64 and hello["size"] > 0
    # the same objects as `packages --json`
    cli = api.mirror.cli("packages", "1.0.0", "--json")
    assert cli.code == 0, cli.stderr
    assert items == json.loads(cli.stdout)

    only = api.ok("GET", "/versions/1.0.0/packages?name=hello")
    assert only == {"items": [hello], "next": None}
    assert [p["name"] for p in api.ok("GET", "/versions/1.0.0/packages?arch=all")["items"]] == [
        "zsh"
    ]
    both = "/versions/latest/packages?archive=debian&suite=bookworm&limit=1000"
    assert len(api.ok("GET", both)["items"]) == len(PACKAGES)
    assert api.ok("GET", "/versions/1.0.0/packages?archive=nope") == {"items": [], "next": None}


def test_a_diff_and_its_summary(api_db: Api) -> None:
    api = api_db
    result = api.republish(Pkg("hello", "2.0"), Pkg("newpkg", "0.1"), remove=("world",))
    assert result["repoversion"] == "2.0.0"
    full = api.ok("GET", "/versions/1.0.0/diff/2.0.0")
    assert full == api.mirror.diff("1.0.0", "2.0.0")
    assert full["counts"] == {"added": 1, "removed": 1, "upgraded": 1, "downgraded": 0}
    assert [(u["name"], u["from"], u["to"]) for u in full["upgraded"]] == [("hello", "1.0", "2.0")]
    summary = api.ok("GET", "/versions/1.0.0/diff/latest?summary=true")
    assert summary == {"from": "1.0.0", "to": "2.0.0", "counts": full["counts"]}
    back = api.ok("GET", "/versions/2.0.0/diff/1.0.0?summary=1")
    assert back["counts"] == {"added": 1, "removed": 1, "upgraded": 0, "downgraded": 1}
    assert "`summary`" in api.error("GET", "/versions/1.0.0/diff/2.0.0?summary=maybe", 422)


def test_a_package_history_names_the_versions_that_held_it(api_db: Api) -> None:
    api = api_db
    api.republish(Pkg("hello", "2.0"))
    api.republish(Pkg("other", "1.0"))
    lines = api.ok("GET", "/packages/hello/history")
    assert [(h["version"], h["repoversions"]) for h in lines] == [
        ("1.0", ["1.0.0"]),
        ("2.0", ["1.1.0", "1.2.0"]),
    ]
    assert lines[0] == {
        "name": "hello",
        "version": "1.0",
        "architecture": "amd64",
        "archive": "debian",
        "suite": "bookworm",
        "repoversions": ["1.0.0"],
    }
    assert api.ok("GET", "/packages/hello/history?version=2.0") == lines[1:]
    assert api.ok("GET", "/packages/hello/history?arch=arm64") == []
    assert api.ok("GET", "/packages/nosuchpackage/history") == []
