"""GET/PUT/DELETE /tags and each tag's history; bad bodies."""

from __future__ import annotations

import json

from tests.fixtures.archives import Pkg
from tests.web.api.conftest import Api


def test_tags_move_and_keep_their_history(api_db: Api) -> None:
    api = api_db
    api.republish(Pkg("hello", "2.0"))
    created = api.ok("PUT", "/tags/stable", api.write, json={"repoversion": "1.0.0"})
    assert created == {
        "name": "stable",
        "repoversion": "1.0.0",
        "moved": "2025-06-01T00:00:00Z",
        "previous": None,
        "changed": True,
    }
    moved = api.ok("PUT", "/tags/stable", api.write, json={"repoversion": "latest"})
    assert (moved["previous"], moved["repoversion"], moved["changed"]) == ("1.0.0", "1.1.0", True)
    again = api.ok("PUT", "/tags/stable", api.write, json={"repoversion": "1.1.0"})
    assert again["changed"] is False
    api.ok("PUT", "/tags/stable", api.write, json={"repoversion": "1.0.0"})

    listed = api.ok("GET", "/tags")
    assert [(t["name"], t["repoversion"]) for t in listed] == [
        ("latest", "1.1.0"),
        ("stable", "1.0.0"),
    ]
    assert listed == json.loads(api.mirror.cli("tags", "--json").stdout)
    # the apt side follows the tag at once
    assert api.client.get("/v/stable/index.json").get_json()["repoversion"] == "1.0.0"

    resp = api.call("DELETE", "/tags/stable", api.write)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert [t["name"] for t in api.ok("GET", "/tags")] == ["latest"]
    history = api.ok("GET", "/tags/stable/history")
    assert [h["repoversion"] for h in history] == ["1.0.0", "1.1.0", "1.0.0", None]
    assert all(h["at"] == "2025-06-01T00:00:00Z" for h in history)


def test_tag_errors(api: Api) -> None:
    assert "9.9.9" in api.error(
        "PUT", "/tags/stable", 404, api.write, json={"repoversion": "9.9.9"}
    )
    assert "latest" in api.error(
        "PUT", "/tags/latest", 422, api.write, json={"repoversion": "1.0.0"}
    )
    assert "must match" in api.error(
        "PUT", "/tags/Bad_Name", 422, api.write, json={"repoversion": "1.0.0"}
    )
    assert "`repoversion`" in api.error("PUT", "/tags/stable", 422, api.write, json={})
    assert "`repoversion`" in api.error(
        "PUT", "/tags/stable", 422, api.write, json={"repoversion": 7}
    )
    assert "`colour`" in api.error(
        "PUT", "/tags/stable", 422, api.write, json={"repoversion": "1.0.0", "colour": "red"}
    )
    assert "JSON object" in api.error("PUT", "/tags/stable", 422, api.write, json=["1.0.0"])
    assert "not valid JSON" in api.error(
        "PUT",
        "/tags/stable",
        400,
        api.write,
        data='{"repoversion": ',
        content_type="application/json",
    )
    api.error("PUT", "/tags/stable", 415, api.write, data={"repoversion": "1.0.0"})
    assert "NUL" in api.error("PUT", "/tags/stable", 422, api.write, json={"repoversion": "a\x00"})
    api.error("DELETE", "/tags/nope", 404, api.write)
    api.error("GET", "/tags/nope/history", 404)
    api.error("GET", "/tags/latest/history", 422)
    # nothing was written by any of these
    assert [t["name"] for t in api.ok("GET", "/tags")] == ["latest"]
