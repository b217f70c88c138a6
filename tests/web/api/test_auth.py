"""Tokens on the API: 401 without or with a bad one, 403 with too small a scope, private
reads, revocation, last use; and every write route is both guarded and documented so."""

from __future__ import annotations

from collections.abc import Callable

from tests.web.api.conftest import Api

TAG = {"json": {"repoversion": "1.0.0"}}


def test_writes_need_a_valid_token(api: Api) -> None:
    resp = api.call("PUT", "/tags/stable", **TAG)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.get_json()["code"] == "unauthorized"
    assert "not valid" in api.error("PUT", "/tags/stable", 401, "rv_not-a-token", **TAG)
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    api.error("PUT", "/tags/stable", 401, headers=basic, **TAG)
    # the scheme is case-insensitive
    ok = api.call("PUT", "/tags/stable", headers={"Authorization": f"bearer {api.write}"}, **TAG)
    assert ok.status_code == 200


def test_the_scope_decides_403(api: Api) -> None:
    assert "admin" in api.error("GET", "/tokens", 403, api.write)
    api.error("POST", "/tokens", 403, api.write, json={"name": "x"})
    api.error("DELETE", "/archives/debian", 403, api.write)
    api.ok("PUT", "/tags/stable", api.admin, **TAG)  # admin may write too
    assert [a["name"] for a in api.ok("GET", "/archives")] == ["debian"]


def test_auth_comes_before_validation(api: Api) -> None:
    """A caller without a token learns nothing from the body's problems."""
    api.error("PUT", "/tags/stable", 401, json={"nonsense": True})
    api.error("POST", "/archives", 403, api.write, json={})


def test_revoked_tokens_are_refused_and_use_is_recorded(api: Api) -> None:
    before = {t["name"]: t for t in api.ok("GET", "/tokens", api.admin)}
    assert before["ci"]["last_used"] is None
    assert before["root"]["last_used"] == "2025-06-01T00:00:00Z"
    api.ok("PUT", "/tags/stable", api.write, **TAG)
    after = {t["name"]: t for t in api.ok("GET", "/tokens", api.admin)}
    assert after["ci"]["last_used"] == "2025-06-01T00:00:00Z"

    assert api.call("DELETE", "/tokens/ci", api.admin).status_code == 204
    assert "revoked" in api.error("PUT", "/tags/stable", 401, api.write, **TAG)
    assert [t["name"] for t in api.ok("GET", "/tokens", api.admin)] == ["root"]


def test_private_reads_need_any_valid_token(make_api: Callable[..., Api]) -> None:
    api = make_api(REPOVERSION_PRIVATE_READS="true")
    resp = api.get("/versions")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    api.error("GET", "/versions/latest", 401, "rv_wrong")
    api.error("GET", "/tags/stable/history", 401)
    assert api.ok("GET", "/versions", api.write)["items"][0]["repoversion"] == "1.0.0"
    assert api.ok("GET", "/archives", api.admin)[0]["name"] == "debian"
    # the description and the apt files stay public
    assert api.get("/openapi.json").status_code == 200
    assert api.client.get("/v/1.0.0/index.json").status_code == 200


def test_reads_are_public_by_default(api: Api) -> None:
    assert api.get("/versions").status_code == 200
    assert api.get("/versions", headers={"Authorization": "Bearer junk"}).status_code == 200


def test_every_guarded_route_is_documented_as_such(api: Api) -> None:
    """A route that needs a token declares the bearer scheme in openapi.json, and answers
    401 without one; a route that declares none needs none."""
    doc = api.ok("GET", "/openapi.json")
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    seen = 0
    for rule in api.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        scope = getattr(api.app.view_functions[rule.endpoint], "rv_scope", None)
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = doc["paths"][path][method.lower()]
            seen += 1
            assert ("security" in operation) == (scope in ("write", "admin")), (method, path)
            if scope in ("write", "admin"):
                url = rule.rule.replace("<int:job_id>", "1").replace("<name>", "debian")
                assert api.client.open(url, method=method, json={}).status_code == 401, url
    assert seen == sum(len(ops) for ops in doc["paths"].values()) == 27
