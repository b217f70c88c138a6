"""GET/POST/PATCH/DELETE /archives: upstream configuration through the API (admin)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fixtures.gpg import GpgKey
from tests.web.api.conftest import Api


def _body(gpg_key: GpgKey, **fields: Any) -> dict[str, Any]:
    return {
        "name": "extra",
        "url": "http://127.0.0.1:9/debian/",
        "suites": ["bookworm"],
        "components": ["main", "contrib"],
        "architectures": ["amd64", "source"],
        "keyring": gpg_key.export_armored().decode(),
        **fields,
    }


def test_list_and_show(api: Api) -> None:
    listed = api.ok("GET", "/archives")
    assert listed == json.loads(api.mirror.cli("archive", "list", "--json").stdout)
    shown = api.ok("GET", "/archives/debian")
    assert shown == json.loads(api.mirror.cli("archive", "show", "debian", "--json").stdout)
    assert len(shown["keyring_fingerprints"]) == 1
    api.error("GET", "/archives/nope", 404)


def test_add_edit_remove(api_db: Api, gpg_key: GpgKey) -> None:
    api = api_db
    resp = api.call("POST", "/archives", api.admin, json=_body(gpg_key, policy="immediate"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.headers["Location"] == "/api/v1/archives/extra"
    added = resp.get_json()
    assert added == {
        "name": "extra",
        "url": "http://127.0.0.1:9/debian",
        "suites": ["bookworm"],
        "components": ["main", "contrib"],
        "architectures": ["amd64", "source"],
        "policy": "immediate",
        "mode": "signed",
        "required": True,
    }
    shown = api.ok("GET", "/archives/extra")
    assert shown["keyring_fingerprints"] == gpg_key.fingerprints

    edited = api.ok(
        "PATCH",
        "/archives/extra",
        api.admin,
        json={"url": "http://127.0.0.1:10/mirror", "suites": ["trixie"], "required": False},
    )
    assert (edited["url"], edited["suites"], edited["required"]) == (
        "http://127.0.0.1:10/mirror",
        ["trixie"],
        False,
    )
    assert edited["components"] == ["main", "contrib"] and edited["policy"] == "immediate"
    assert api.ok("GET", "/archives/extra")["url"] == "http://127.0.0.1:10/mirror"

    assert api.call("DELETE", "/archives/extra", api.admin).status_code == 204
    api.error("GET", "/archives/extra", 404)
    api.error("DELETE", "/archives/extra", 404, api.admin)
    assert [a["name"] for a in api.ok("GET", "/archives")] == ["debian"]


def test_a_binary_keyring_in_base64(api: Api, gpg_key: GpgKey) -> None:
    keyring = base64.b64encode(gpg_key.export_binary()).decode()
    api.ok("POST", "/archives", api.admin, json=_body(gpg_key, keyring=keyring))
    assert api.ok("GET", "/archives/extra")["keyring_fingerprints"] == gpg_key.fingerprints
    api.ok("PATCH", "/archives/extra", api.admin, json={"keyring": keyring})


def test_bad_archives_are_refused_naming_the_field(api: Api, gpg_key: GpgKey) -> None:
    def refused(status: int, **fields: Any) -> str:
        return api.error("POST", "/archives", status, api.admin, json=_body(gpg_key, **fields))

    assert "`keyring`" in refused(422, keyring="not base64!")
    assert "OpenPGP" in refused(422, keyring=base64.b64encode(b"junk").decode())
    assert "`suites`" in refused(422, suites=[])
    assert "`policy`" in refused(422, policy="sometimes")
    assert "`mirror`" in refused(422, mirror=True)
    assert "`url`" in refused(422, url="http://[::1")
    assert "credentials" in refused(422, url="https://me:secret@deb.example.org/debian")
    assert "secret" not in refused(422, url="https://me:secret@deb.example.org/debian")
    assert "must match" in refused(422, name="Bad Name")
    assert "`ca`" in refused(422, ca="not a certificate")
    assert "`name`" in api.error("POST", "/archives", 422, api.admin, json={})
    assert "already exists" in refused(409, name="debian")

    api.error("PATCH", "/archives/debian", 422, api.admin, json={})
    assert "`suites`" in api.error("PATCH", "/archives/debian", 422, api.admin, json={"suites": []})
    assert "`mode`" in api.error(
        "PATCH", "/archives/debian", 422, api.admin, json={"mode": "verbatim"}
    )
    api.error("PATCH", "/archives/nope", 404, api.admin, json={"required": False})
    # nothing changed
    assert api.ok("GET", "/archives") == json.loads(
        api.mirror.cli("archive", "list", "--json").stdout
    )
    assert [a["name"] for a in api.ok("GET", "/archives")] == ["debian"]
