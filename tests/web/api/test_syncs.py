"""POST /syncs queues a sync for the worker (202 + job); GET /syncs and /syncs/<id>."""

from __future__ import annotations

from tests.web.api.conftest import Api


def test_a_sync_request_becomes_a_visible_job(api_db: Api) -> None:
    api = api_db
    resp = api.call("POST", "/syncs", api.write)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/syncs/{job['id']}"
    assert job["kind"] == "sync" and job["state"] == "queued"
    assert job["result"] is None and job["error"] is None and job["finished"] is None
    assert api.ok("GET", f"/syncs/{job['id']}") == job

    listed = api.ok("GET", "/syncs")
    assert listed["items"][0] == job
    assert set(listed["schedule"]) == {"every", "last", "next"}

    # one sync at a time: the second request names the first
    message = api.error("POST", "/syncs", 409, api.admin, json={"bump": "minor"})
    assert str(job["id"]) in message
    assert [j["id"] for j in api.ok("GET", "/syncs")["items"]] == [job["id"]]


def test_sync_request_errors(api: Api) -> None:
    api.error("POST", "/syncs", 401)
    assert "`bump`" in api.error("POST", "/syncs", 422, api.write, json={"bump": "huge"})
    assert "`allow_releaseinfo_change`" in api.error(
        "POST", "/syncs", 422, api.write, json={"allow_releaseinfo_change": "debian/bookworm"}
    )
    api.error("GET", "/syncs/999999", 404)
    assert "`job_id`" in api.error("GET", "/syncs/0", 422)
    assert "`job_id`" in api.error("GET", "/syncs/99999999999999999999", 422)
    api.error("GET", "/syncs/abc", 404)
    assert "`limit`" in api.error("GET", "/syncs?limit=0", 422)
    assert api.ok("GET", "/syncs")["items"] == []
