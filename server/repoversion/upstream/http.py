"""Upstream HTTP: one keep-alive session per archive, apt's auth.conf, a CA per archive,
proxies from the usual ``*_PROXY`` variables, retries with backoff, verified downloads.

Nothing fetched here is trusted until its size and SHA-256 match what a verified Release
(or Packages index) says; a mismatch raises :class:`DigestMismatch` and stores nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from repoversion.errors import BadUpstream, DigestMismatch
from repoversion.storage.base import BlobRef, BlobStore

CHUNK = 1 << 20
USER_AGENT = "repoversion/0.1 (+apt mirror)"


class NotFoundUpstream(BadUpstream):
    """The upstream answered 404/410: the caller may try another variant."""

    code = "upstream_not_found"


@dataclass(frozen=True)
class AuthEntry:
    scheme: str | None
    host: str
    port: int | None
    path: str
    login: str
    password: str


def parse_auth_conf(text: str) -> list[AuthEntry]:
    """Parse apt's auth.conf (``machine [proto://]host[:port][/path] login U password P``).

    As in apt >= 1.5, an entry without a protocol applies to https only.
    """
    tokens = re.sub(r"#[^\n]*", "", text).split()
    entries: list[AuthEntry] = []
    current: dict[str, str] = {}

    def flush() -> None:
        if "machine" in current:
            machine = current["machine"]
            scheme = None
            if "://" in machine:
                scheme, machine = machine.split("://", 1)
            hostport, _, path = machine.partition("/")
            host, _, port = hostport.partition(":")
            entries.append(
                AuthEntry(
                    scheme,
                    host.lower(),
                    int(port) if port.isdigit() else None,
                    "/" + path.strip("/") if path else "",
                    current.get("login", ""),
                    current.get("password", ""),
                )
            )

    i = 0
    while i < len(tokens) - 1:
        key, value = tokens[i], tokens[i + 1]
        if key == "machine":
            flush()
            current = {}
        current[key] = value
        i += 2
    flush()
    return entries


def find_credentials(entries: list[AuthEntry], url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    for e in entries:
        if e.scheme is None and parts.scheme != "https":
            continue
        if e.scheme is not None and e.scheme != parts.scheme:
            continue
        if e.host != (parts.hostname or "").lower():
            continue
        if e.port is not None and e.port != parts.port:
            continue
        if e.path and not (parts.path + "/").startswith(e.path.rstrip("/") + "/"):
            continue
        return e.login, e.password
    return None


def ca_bundle(ca_pem: str, directory: Path | None = None) -> Path:
    """A file holding ``ca_pem`` (requests wants a path), named by its digest so that every
    process and sync shares one file per CA and none is left behind per use.

    :param directory: where (default: ``repoversion-ca`` in the system's temporary dir).
    """
    directory = directory or Path(tempfile.gettempdir()) / "repoversion-ca"
    data = ca_pem.encode()
    path = directory / f"{hashlib.sha256(data).hexdigest()}.pem"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".part", dir=directory)
        with open(fd, "wb") as handle:
            handle.write(data)
        os.replace(name, path)  # atomic: a reader never sees half a bundle
    return path


class Upstream:
    """HTTP access to one archive's base URL.

    :param base_url: the archive URL (no trailing slash).
    :param name: archive name, used in error messages.
    :param ca_pem: PEM CA bundle to trust instead of the system's, or None.
    :param auth: parsed auth.conf entries.
    """

    def __init__(
        self,
        base_url: str,
        name: str,
        *,
        ca_pem: str | None = None,
        auth: list[AuthEntry] | None = None,
        retries: int = 3,
        timeout: float = 60.0,
        pool: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.retries = retries
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Passed on every request: a session-wide ``verify`` loses to REQUESTS_CA_BUNDLE.
        self._verify: str | bool = True
        if ca_pem:
            self._verify = str(ca_bundle(ca_pem))
        creds = find_credentials(auth or [], self.base_url + "/")
        if creds:
            self.session.auth = creds

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _get(self, path: str) -> requests.Response:
        url = self.url(path)
        delay = 0.2
        for attempt in range(self.retries + 1):
            try:
                resp = self.session.get(url, stream=True, timeout=self.timeout, verify=self._verify)
            except requests.RequestException as exc:
                if attempt == self.retries:
                    raise BadUpstream(
                        f"{self.name}: cannot fetch {path}: {_reason(exc)}."
                    ) from None
            else:
                if resp.status_code in (404, 410):
                    resp.close()
                    raise NotFoundUpstream(
                        f"{self.name}: {path} is not found upstream (HTTP {resp.status_code})."
                    )
                if resp.status_code in (401, 403):
                    resp.close()
                    raise BadUpstream(
                        f"{self.name}: {path} is refused upstream (HTTP "
                        f"{resp.status_code}); check auth.conf."
                    )
                if resp.status_code == 200:
                    return resp
                resp.close()
                if attempt == self.retries or resp.status_code < 500:
                    raise BadUpstream(f"{self.name}: {path} answered HTTP {resp.status_code}.")
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def get_bytes(self, path: str, max_size: int) -> bytes:
        """Fetch a small unverified file (InRelease, Release, Release.gpg), bounded in size."""
        return self._read(path, max_size, None, None)

    def get_verified(self, path: str, size: int, sha256: str) -> bytes:
        """Fetch ``path`` into memory and check its size and SHA-256.

        :raises DigestMismatch: the bytes are not what the Release says.
        """
        return self._read(path, size, size, sha256)

    def _read(self, path: str, limit: int, size: int | None, sha256: str | None) -> bytes:
        for attempt in range(self.retries + 1):
            resp = self._get(path)
            chunks: list[bytes] = []
            total = 0
            try:
                for chunk in resp.iter_content(CHUNK):
                    total += len(chunk)
                    if total > limit:
                        if size is not None:
                            raise DigestMismatch(
                                f"{self.name}: {path} is larger than the "
                                f"{size} bytes its Release lists."
                            )
                        raise BadUpstream(f"{self.name}: {path} is larger than {limit} bytes.")
                    chunks.append(chunk)
            except requests.RequestException as exc:
                if attempt == self.retries:
                    raise BadUpstream(f"{self.name}: {path} broke off: {_reason(exc)}.") from None
                continue
            finally:
                resp.close()
            data = b"".join(chunks)
            _check(self.name, path, data, size, sha256)
            return data
        raise AssertionError("unreachable")

    def stream_to_store(
        self,
        path: str,
        store: BlobStore,
        size: int,
        sha256: str,
        progress: Callable[[int], None] | None = None,
    ) -> BlobRef:
        """Download ``path`` straight into ``store``; only verified bytes are kept.

        :raises DigestMismatch: size or SHA-256 differ (nothing is stored).
        """
        for attempt in range(self.retries + 1):
            resp = self._get(path)
            try:
                with store.writer(expected_sha256=sha256, expected_size=size) as w:
                    total = 0
                    for chunk in resp.iter_content(CHUNK):
                        total += len(chunk)
                        if total > size:
                            raise DigestMismatch(
                                f"{self.name}: {path} is larger than the {size} bytes listed.",
                                expected=sha256,
                            )
                        w.write(chunk)
                        if progress:
                            progress(len(chunk))
                    return w.commit()
            except requests.RequestException as exc:
                if attempt == self.retries:
                    raise BadUpstream(f"{self.name}: {path} broke off: {_reason(exc)}.") from None
            except DigestMismatch as exc:
                raise DigestMismatch(
                    f"{self.name}: {path} does not match its SHA256 {sha256}.",
                    expected=sha256,
                    actual=exc.actual,
                ) from None
            finally:
                resp.close()
        raise AssertionError("unreachable")


def _check(name: str, path: str, data: bytes, size: int | None, sha256: str | None) -> None:
    if size is not None and len(data) != size:
        raise DigestMismatch(f"{name}: {path} has {len(data)} bytes, its Release lists {size}.")
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise DigestMismatch(
                f"{name}: {path} does not match the SHA256 its Release lists.",
                expected=sha256,
                actual=actual,
            )


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Failed to resolve" in text:
        return "host not found"
    if "timed out" in text.lower():
        return "timed out"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted"
    return type(exc).__name__
