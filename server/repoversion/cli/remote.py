"""The read commands against a remote server: a small client of its HTTP API (``/api/v1``).

Only the standard library is used (``urllib``, which honours ``*_proxy`` like the rest
of the tools), so a remote read starts without importing the database layer, Flask or
``requests``. A listing is read whole by following its ``next`` cursors. An error the
server explains (``{"code", "message"}``) becomes that message; a server out of reach,
or something that is not a repoversion server, is one sentence.

>>> RemoteReads("http://rv.example.org:8080/", None).base
'http://rv.example.org:8080'
>>> RemoteReads("rv.example.org", None)
Traceback (most recent call last):
...
repoversion.errors.InvalidInput: --server must be an http:// or https:// URL, got 'rv.example.org'.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from repoversion.errors import InvalidInput, NotFound, RepoversionError, Unavailable

if TYPE_CHECKING:
    from repoversion.cli.reads import Filters

#: items asked for per page (the API's largest page)
PAGE = 1000
#: seconds to wait for the server to connect and for each read
TIMEOUT = 60.0


class RemoteReads:
    """The read commands' questions, asked of the server at ``server``.

    :param server: the server's base URL (``http://host:8080``, or a prefix a proxy
        serves it under).
    :param token: sent as ``Authorization: Bearer``, for servers with private reads.
    """

    def __init__(self, server: str, token: str | None, timeout: float = TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"--server must be an http:// or https:// URL, got {server!r}.")
        self.base = server.rstrip("/")
        self.token = token
        self.timeout = timeout

    def versions(self) -> list[dict[str, Any]]:
        return self._all("/versions", {})

    def show(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self._get(f"/versions/{_ref(ref)}")
        return out

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        out: dict[str, Any] = self._get(f"/versions/{_ref(ref_a)}/diff/{_ref(ref_b)}")
        return out

    def packages(self, ref: str, filters: Filters) -> list[dict[str, Any]]:
        f = filters
        params = {
            "name": f["name"],
            "arch": f["arch"],
            "archive": f["archive"],
            "suite": f["suite"],
        }
        return self._all(f"/versions/{_ref(ref)}/packages", params)

    def history(self, name: str, version: str | None, arch: str | None) -> list[dict[str, Any]]:
        if not _routable(name):
            return []  # no package name holds a "/"
        out: list[dict[str, Any]] = self._get(
            f"/packages/{_part(name)}/history", {"version": version, "arch": arch}
        )
        return out

    def tags(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._get("/tags")
        return out

    def tag_history(self, name: str) -> list[dict[str, Any]]:
        if not _routable(name):
            # the local answer (repoversion.versions.tags): no tag name holds a "/"
            raise NotFound(f"No tag named {name!r} has ever existed.")
        out: list[dict[str, Any]] = self._get(f"/tags/{_part(name)}/history")
        return out

    def _all(self, path: str, params: dict[str, str | None]) -> list[dict[str, Any]]:
        """Every item of a paginated listing, following ``next`` to its end."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._get(path, {**params, "limit": str(PAGE), "cursor": cursor})
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise self._not_the_api()
            items += page["items"]
            cursor = page.get("next")
            if not cursor:
                return items

    def _get(self, path: str, params: dict[str, str | None] | None = None) -> Any:
        """The JSON the API answers to ``GET /api/v1<path>?<params>`` (None values left out).

        :raises RepoversionError: the server's own message for a 4xx or 5xx.
        :raises Unavailable: the server cannot be reached or answered nothing usable.
        """
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
        return self._json(self._send(path + (f"?{query}" if query else "")))

    def post(self, path: str, body: Any) -> bytes:
        """The body the API answers to ``POST /api/v1<path>`` with ``body`` as JSON, as it
        is (a lockfile's bytes are kept exactly).

        :raises RepoversionError: the server's own message for a 4xx or 5xx.
        :raises Unavailable: the server cannot be reached.
        """
        return self._send(path, json.dumps(body).encode())

    def resolve(self, ref: str, architecture: str, packages: list[str], recommends: bool) -> bytes:
        """The lockfile the server resolves (``POST /versions/<ref>/resolve``)."""
        body = {"packages": packages, "architecture": architecture, "recommends": recommends}
        return self.post(f"/versions/{_ref(ref)}/resolve", body)

    def store_lockfile(self, lock: Any) -> dict[str, Any]:
        """``{"id", "sources", "key_command"}`` of a lockfile the server stores
        (``POST /lockfiles``, a write token needed)."""
        out: dict[str, Any] = self._json(self.post("/lockfiles", lock))
        return out

    def _send(self, path: str, data: bytes | None = None) -> bytes:
        """The answer's body to a GET (or, with ``data``, a JSON POST) of ``/api/v1<path>``."""
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{self.base}/api/v1{path}", data=data, headers=headers)
        if self.token:
            # unredirected: a redirect elsewhere must not carry the token along
            request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc.code, exc.read()) from None
        except urllib.error.URLError as exc:
            raise self._unreachable(exc.reason) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from None

    def _json(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            raise self._not_the_api() from None

    def _refusal(self, status: int, body: bytes) -> RepoversionError:
        """The server's ``{code, message}`` as an error carrying its message."""
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            error = RepoversionError(data["message"])
            error.code = str(data.get("code") or error.code)
            error.status = status
            return error
        return self._not_the_api(f"answered HTTP {status}")

    def _not_the_api(self, what: str = "answered") -> Unavailable:
        return Unavailable(
            f"The server at {self.base} {what} without the repoversion API's JSON; "
            "is it a repoversion server?"
        )

    def _unreachable(self, reason: object) -> Unavailable:
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        return Unavailable(f"Cannot reach the repoversion server at {self.base}: {text}.")


def _part(value: str) -> str:
    """``value`` as one path segment (a package name may hold ``+``)."""
    return urllib.parse.quote(value, safe="")


def _routable(value: str) -> bool:
    """Whether ``value`` can be one segment of an API path: the server splits at a ``/``,
    even an escaped one, and an empty segment names another route."""
    return bool(value) and "/" not in value


def _ref(ref: str) -> str:
    """``ref`` as a path segment.

    :raises NotFound: it cannot be routed, so it is no ref: the sentence a local read
        gives (:func:`repoversion.versions.refs.check_ref`).
    """
    if not _routable(ref):
        raise NotFound(f"No repoversion, tag or timestamp {ref!r}.")
    return _part(ref)
