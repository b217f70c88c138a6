"""GET/POST/DELETE /tokens (admin): secrets shown once, stored hashed, revocable."""

from __future__ import annotations

from tests.web.api.conftest import Api


def test_create_use_list_revoke(api_db: Api) -> None:
    api = api_db
    resp = api.call("POST", "/tokens", api.admin, json={"name": "deploy"})
    assert resp.status_code == 201
    new = resp.get_json()
    assert (new["name"], new["scope"]) == ("deploy", "write")
    assert new["token"].startswith("rv_")
    api.ok("PUT", "/tags/prod", new["token"], json={"repoversion": "1.0.0"})
    api.error("GET", "/tokens", 403, new["token"])

    listed = api.call("GET", "/tokens", api.admin)
    assert new["token"] not in listed.get_data(as_text=True)
    assert api.write not in listed.get_data(as_text=True)
    rows = {t["name"]: t for t in listed.get_json()}
    assert set(rows) == {"ci", "deploy", "root"}
    assert set(rows["deploy"]) == {"name", "scope", "created", "last_used"}
    assert rows["deploy"]["last_used"] == "2025-06-01T00:00:00Z"

    admin = api.ok("POST", "/tokens", api.admin, json={"name": "ops", "scope": "admin"})
    assert api.ok("GET", "/tokens", admin["token"])

    assert api.call("DELETE", "/tokens/deploy", api.admin).status_code == 204
    api.error("PUT", "/tags/prod", 401, new["token"], json={"repoversion": "1.0.0"})
    api.error("DELETE", "/tokens/deploy", 404, api.admin)


def test_bad_tokens_are_refused(api: Api) -> None:
    assert "already exists" in api.error("POST", "/tokens", 409, api.admin, json={"name": "ci"})
    assert "`scope`" in api.error(
        "POST", "/tokens", 422, api.admin, json={"name": "x", "scope": "root"}
    )
    assert "Token name" in api.error("POST", "/tokens", 422, api.admin, json={"name": "a b"})
    assert "`name`" in api.error("POST", "/tokens", 422, api.admin, json={})
    assert [t["name"] for t in api.ok("GET", "/tokens", api.admin)] == ["ci", "root"]
