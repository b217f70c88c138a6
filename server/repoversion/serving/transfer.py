"""One upstream file into the blob store before a deadline: the transfer under fetch-through.

:meth:`Upstream.stream_to_store <repoversion.upstream.http.Upstream.stream_to_store>`
bounds each socket read (``download_timeout``) and retries inside retries, so a file that
trickles in never ends. Here one :class:`Deadline` bounds the whole file: every attempt,
connect and read gets at most the time left (the socket's timeout is lowered before each
read), retries and their back-off stop when it passes, and the partial write is then
discarded. Bytes are hashed as they arrive and the blob is committed only when its size
and SHA-256 match, as everywhere else.

>>> d = Deadline(900)
>>> 899 < d.remaining() <= 900
True
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
import urllib3

from repoversion.errors import BadUpstream, DigestMismatch, RepoversionError
from repoversion.storage.base import BlobRef, BlobStore
from repoversion.upstream.http import NotFoundUpstream, Upstream, _reason

CHUNK = 1 << 20
#: Retry back-off, as :class:`Upstream` does: 0.2 s, doubling.
FIRST_DELAY = 0.2


class FetchDeadline(RepoversionError):
    """A file did not arrive from upstream within ``fetch_deadline``; nothing was stored."""

    code = "fetch_deadline"
    status = 504


class Deadline:
    """An instant (on the monotonic clock) by which a file must be stored.

    :param seconds: from now.
    :param clock: the monotonic clock.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self._clock()

    def cancel(self) -> None:
        """Pass now: a transfer bound by it stops at its next read (a server stopping)."""
        self.at = min(self.at, self._clock())

    def check(self, what: str) -> float:
        """The seconds left, or :class:`FetchDeadline` naming ``what`` when none are.

        :param what: the file, e.g. ``debian: pool/main/h/hello/hello_1.0_amd64.deb``.
        :raises FetchDeadline: the deadline has passed.
        """
        left = self.remaining()
        if left <= 0:
            raise self.expired(what)
        return left

    def expired(self, what: str) -> FetchDeadline:
        """The error for ``what`` missing this deadline.

        :param what: the file.
        """
        return FetchDeadline(
            f"{what} did not arrive from upstream within {self.seconds:g} s "
            "(the fetch_deadline setting); nothing was stored, try again later."
        )


class _Retry(Exception):
    """A failure worth another attempt (connection, 5xx, broken body)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TimedUpstream(Upstream):
    """:class:`Upstream` (same session, CA, credentials) with deadline-bound downloads."""

    def download(
        self, path: str, store: BlobStore, size: int, sha256: str, deadline: Deadline
    ) -> BlobRef:
        """Store ``path`` if its bytes are ``size`` long and hash to ``sha256``.

        :param path: relative to the archive's URL.
        :param store: where the blob goes.
        :param size: the size the index lists.
        :param sha256: the digest the index lists.
        :param deadline: when to give up, whatever the attempt is doing.
        :raises FetchDeadline: the deadline passed (the partial write is discarded).
        :raises NotFoundUpstream: 404 or 410.
        :raises DigestMismatch: other bytes than listed (nothing is stored).
        :raises BadUpstream: refused, or still failing after ``retries`` retries.
        """
        what = f"{self.name}: {path}"
        delay = FIRST_DELAY
        for attempt in range(self.retries + 1):
            deadline.check(what)
            try:
                return self._attempt(path, store, size, sha256, deadline)
            except _Retry as failure:
                if attempt == self.retries:
                    raise BadUpstream(failure.message) from None
            time.sleep(min(delay, max(0.0, deadline.remaining())))
            delay *= 2
        raise AssertionError("unreachable")

    def _attempt(
        self, path: str, store: BlobStore, size: int, sha256: str, deadline: Deadline
    ) -> BlobRef:
        what = f"{self.name}: {path}"
        left = min(self.timeout, deadline.check(what))
        try:
            resp = self.session.get(self.url(path), stream=True, timeout=left, verify=self._verify)
        except requests.RequestException as exc:
            deadline.check(what)  # a connect cut short by the deadline is not a failure
            raise _Retry(f"{self.name}: cannot fetch {path}: {_reason(exc)}.") from None
        try:
            _check_status(what, resp.status_code)
            return self._receive(what, resp, store, size, sha256, deadline)
        finally:
            resp.close()

    def _receive(
        self,
        what: str,
        resp: requests.Response,
        store: BlobStore,
        size: int,
        sha256: str,
        deadline: Deadline,
    ) -> BlobRef:
        with store.writer(expected_sha256=sha256, expected_size=size) as w:
            try:
                while chunk := self._next_chunk(what, resp, deadline):
                    w.write(chunk)
                return w.commit()
            except DigestMismatch as exc:
                big = w.size > size
                raise DigestMismatch(
                    f"{what} is larger than the {size} bytes listed."
                    if big
                    else f"{what} does not match its SHA256 {sha256}.",
                    expected=sha256,
                    actual=exc.actual,
                ) from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                deadline.check(what)  # a read that timed out because the deadline came
                raise _Retry(f"{what} broke off: {_reason(exc)}.") from None

    def _next_chunk(self, what: str, resp: requests.Response, deadline: Deadline) -> bytes:
        """The next bytes of the body (``b""`` at its end), waiting no longer than allowed.

        ``read1`` returns what one read brings, so the deadline is checked between small
        reads rather than after a whole chunk has trickled in.
        """
        left = min(self.timeout, deadline.check(what))
        conn = resp.raw.connection
        sock = getattr(conn, "sock", None)
        if sock is not None:
            sock.settimeout(left)
        return bytes(resp.raw.read1(CHUNK, decode_content=True))


def _check_status(what: str, status: int) -> None:
    """:raises NotFoundUpstream, BadUpstream, _Retry: anything but 200, as :class:`Upstream`."""
    if status == 200:
        return
    if status in (404, 410):
        raise NotFoundUpstream(f"{what} is not found upstream (HTTP {status}).")
    if status in (401, 403):
        raise BadUpstream(f"{what} is refused upstream (HTTP {status}); check auth.conf.")
    if status >= 500:
        raise _Retry(f"{what} answered HTTP {status}.")
    raise BadUpstream(f"{what} answered HTTP {status}.")
