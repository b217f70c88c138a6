"""Fetch-through: download a file a version references but storage lacks, then serve it.

Downloads never run in a request thread. A server process hands them to
:class:`Downloads`: a pool of ``fetch_concurrency`` threads, one download per blob
however many requests ask (they share one future), each bounded by ``fetch_deadline``
from the first request on (:class:`~repoversion.serving.transfer.Deadline`: queueing,
waiting for another process, every attempt and read). At most ``fetch_waiters`` requests
of a process wait at once; the next ones get 503 with ``Retry-After``, so waiting clients
never hold every thread of the server, and a waiting request whose client hangs up gives
its place back (docs/serving.md).

Across the processes of one machine a download takes an ``flock`` on
``<home>/locks/fetch/<sha256>.lock`` (polled, never waited on past the deadline, and
removed afterwards, whatever the outcome). The bytes are hashed while they stream into the
store and only committed when size and SHA-256 match, so a mismatch or a passed deadline
stores nothing, and the client, answered only after the commit, never gets a bad byte.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from repoversion.config import Settings
from repoversion.db.models import Archive, Blob
from repoversion.db.session import transaction
from repoversion.errors import (
    BadUpstream,
    DigestMismatch,
    NotFound,
    RepoversionError,
    Unavailable,
)
from repoversion.serving.locks import LockTimeout, lock_until
from repoversion.serving.target import Target
from repoversion.serving.transfer import Deadline, FetchDeadline, TimedUpstream
from repoversion.storage.base import BlobStore
from repoversion.upstream.http import NotFoundUpstream, parse_auth_conf

log = logging.getLogger(__name__)

#: Seconds a 503 asks clients to wait before asking again.
RETRY_AFTER = 10
#: Seconds a request waits past the deadline for the download's own verdict (its reads
#: end at the deadline; this only covers the moment it takes to notice and clean up).
GRACE = 2.0
#: Seconds between two looks at whether a waiting request's client is still there.
CHECK_EVERY = 0.5


class UpstreamGone(NotFound):
    """The file is not stored and upstream no longer has it."""

    code = "upstream_gone"


class ClientGone(RepoversionError):
    """The client closed its connection while waiting (apt 2.6 gives up after 30 s
    without a byte, then asks again on a new connection)."""

    code = "client_gone"
    status = 408


class Busy(Unavailable):
    """Too many requests of this process already wait for downloads (503, ``Retry-After``)."""

    code = "busy"
    retry_after = RETRY_AFTER


Count = Callable[..., None]


class Fetcher:
    """Downloads missing blobs from their upstream archive, once each, by a deadline.

    :param settings: for the lock directory, auth.conf, retries, timeouts, the deadline.
    :param sessions: to read archive CAs and record fetched blobs.
    :param store: where blobs go.
    :param count: ``count(metric, value=1, **labels)``, e.g. :func:`repoversion.metrics.count`.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: Callable[[], sessionmaker[Session]],
        store: BlobStore,
        count: Count | None = None,
    ) -> None:
        self.settings = settings
        self._sessions = sessions
        self.store = store
        self.count: Count = count or (lambda *_a, **_k: None)
        self._upstreams: dict[tuple[str, str], TimedUpstream] = {}
        self._guard = threading.Lock()

    def ensure(self, target: Target, url: str, deadline: Deadline | None = None) -> bool:
        """Make sure ``target``'s blob is stored, downloading it here if needed.

        :param target: what to have; ``target.upstream`` says where upstream has it.
        :param url: the archive's URL (as the version recorded it).
        :param deadline: when to give up (default: ``fetch_deadline`` from now).
        :returns: whether this call downloaded it.
        :raises NotFound: it cannot be fetched (generated here, or no upstream path).
        :raises UpstreamGone: upstream answers 404 for every path.
        :raises DigestMismatch: upstream's bytes are not the ones the version lists.
        :raises FetchDeadline: not stored by the deadline (nothing of it is kept).
        :raises BadUpstream: upstream cannot be reached.
        """
        sha = target.sha256
        if self.store.exists(sha):
            return False
        check_fetchable(target)
        deadline = deadline or Deadline(self.settings.fetch_deadline)
        try:
            deadline.check(describe(target))
            with lock_until(lock_path(self.settings.home, sha), deadline.remaining):
                if self.store.exists(sha):
                    return False
                self._download(target, url, deadline)
        except LockTimeout:
            self.count("repoversion_fetch_failures_total", reason=FetchDeadline.code)
            raise deadline.expired(describe(target)) from None
        except FetchDeadline:
            self.count("repoversion_fetch_failures_total", reason=FetchDeadline.code)
            raise
        return True

    def _download(self, target: Target, url: str, deadline: Deadline) -> None:
        assert target.archive is not None
        up = self._upstream(target.archive, url)
        error: BadUpstream | None = None
        for path in target.upstream:
            try:
                info = up.download(path, self.store, target.size, target.sha256, deadline)
            except (NotFoundUpstream, DigestMismatch) as exc:
                error = exc
                continue
            except BadUpstream as exc:
                self.count("repoversion_fetch_failures_total", reason=exc.code)
                raise
            self.count("repoversion_fetch_downloads_total")
            self.count("repoversion_fetch_download_bytes_total", info.size)
            self._record(info.sha256, info.size)
            log.info("%s: fetched %s (%d bytes)", target.archive, path, info.size)
            self._export_if_wanted(target, path)
            return
        assert error is not None
        self.count("repoversion_fetch_failures_total", reason=error.code)
        if isinstance(error, NotFoundUpstream):
            raise UpstreamGone(
                f"{target.archive}: {target.upstream[-1]} is not stored here and upstream "
                "no longer has it; `repoversion materialize` keeps files before upstream "
                "deletes them."
            )
        raise error

    def _upstream(self, archive: str, url: str) -> TimedUpstream:
        with self._guard:
            up = self._upstreams.get((archive, url))
            if up is None:
                with transaction(self._sessions()) as s:
                    ca = s.scalar(select(Archive.ca).where(Archive.name == archive))
                conf = self.settings.auth_conf
                auth = parse_auth_conf(conf.read_text()) if conf.is_file() else []
                up = TimedUpstream(
                    url,
                    archive,
                    ca_pem=ca,
                    auth=auth,
                    retries=self.settings.download_retries,
                    timeout=self.settings.download_timeout,
                    # a connection per downloader thread (or materialize thread) at most
                    pool=max(self.settings.fetch_concurrency, self.settings.download_concurrency),
                )
                self._upstreams[(archive, url)] = up
            return up

    def _record(self, sha256: str, size: int) -> None:
        """Add the ``Blob`` row of a verified, stored blob (another writer may have)."""
        try:
            with transaction(self._sessions()) as s:
                if s.get(Blob, sha256) is None:
                    s.add(Blob(sha256=sha256, size=size, created=self.settings.clock()))
        except IntegrityError:
            pass

    def _export_if_wanted(self, target: Target, path: str) -> None:
        """Queue the ostree export of a deb just stored for an archive marked
        ``ostree_export``: a worker runs it, never this thread. The download stands
        even if the queue cannot be reached (``ostree export`` can be run later)."""
        if target.archive is None or not path.endswith((".deb", ".udeb")):
            return
        from repoversion.jobs.exports import queue_for_archive

        try:
            queue_for_archive(self._sessions(), target.archive, [target.sha256])
        except (RepoversionError, SQLAlchemyError) as exc:
            log.warning("%s: cannot queue the ostree export of %s: %s", target.archive, path, exc)

    def close(self) -> None:
        """Close upstream connections."""
        with self._guard:
            for up in self._upstreams.values():
                up.close()
            self._upstreams.clear()


@dataclass(frozen=True)
class _Job:
    """A download in flight: what every request for its blob waits on."""

    future: Future[bool]
    deadline: Deadline


class Downloads:
    """Fetch-through for the request threads of one server process.

    :param fetcher: does the downloads.
    :param workers: downloader threads (``fetch_concurrency``).
    :param waiters: requests that may wait at once (``fetch_waiters``); more get 503.
    """

    def __init__(self, fetcher: Fetcher, *, workers: int, waiters: int) -> None:
        self.fetcher = fetcher
        self.workers = workers
        self.waiters = waiters
        # reentrant: a future that is already done runs its callback in the submitter
        self._guard = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._waiting = 0
        self._pool: ThreadPoolExecutor | None = None

    def ensure(self, target: Target, url: str, gone: Callable[[], bool] | None = None) -> bool:
        """Wait until ``target`` is stored, starting its download unless one runs.

        :param target: the file.
        :param url: its archive's URL.
        :param gone: whether the client has left; its place among the waiters is then
            given up (the download goes on for the others and the next request).
        :returns: whether it was downloaded now.
        :raises Busy: ``waiters`` requests already wait (503, ``Retry-After``).
        :raises FetchDeadline: not stored by the deadline (504).
        :raises ClientGone: ``gone()`` said so.
        :raises RepoversionError: see :meth:`Fetcher.ensure`.
        """
        if self.fetcher.store.exists(target.sha256):
            return False
        check_fetchable(target)
        job = self._join(target, url)
        try:
            return _wait(job, target, gone or (lambda: False))
        finally:
            with self._guard:
                self._waiting -= 1

    def _join(self, target: Target, url: str) -> _Job:
        with self._guard:
            if self._waiting >= self.waiters:
                raise Busy(
                    f"{self._waiting} requests already wait for files from upstream here; "
                    f"try again in {RETRY_AFTER} s."
                )
            job = self._jobs.get(target.sha256) or self._start(target, url)
            self._waiting += 1
            return job

    def _start(self, target: Target, url: str) -> _Job:
        deadline = Deadline(self.fetcher.settings.fetch_deadline)
        if self._pool is None:  # created in the process that serves (after gunicorn forks)
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="fetch")
        job = _Job(self._pool.submit(self.fetcher.ensure, target, url, deadline), deadline)
        self._jobs[target.sha256] = job
        job.future.add_done_callback(lambda _f: self._forget(target.sha256, job))
        return job

    def _forget(self, sha256: str, job: _Job) -> None:
        """A finished download: the next request checks the store (or tries again)."""
        with self._guard:
            if self._jobs.get(sha256) is job:
                del self._jobs[sha256]

    def close(self) -> None:
        """Stop the downloads: queued ones never start, running ones stop at their next
        read and discard what they wrote (a stopping process exits promptly)."""
        with self._guard:
            for job in self._jobs.values():
                job.deadline.cancel()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


def _wait(job: _Job, target: Target, gone: Callable[[], bool]) -> bool:
    """The download's outcome, looking at the client now and then while it runs."""
    while True:
        left = job.deadline.remaining() + GRACE
        if left <= 0:
            raise job.deadline.expired(describe(target))
        try:
            return job.future.result(timeout=min(left, CHECK_EVERY))
        except CancelledError:  # never started: this process is stopping
            raise Unavailable("This server is stopping; try again.") from None
        except FutureTimeout:
            if gone():
                raise ClientGone(
                    f"The client left before {describe(target)} arrived from upstream."
                ) from None


def check_fetchable(target: Target) -> None:
    """:raises NotFound: ``target`` is generated here or has no upstream path."""
    if target.archive is None or not target.upstream:
        raise NotFound(f"{target.name} is not stored (blob {target.sha256}).")


def describe(target: Target) -> str:
    """``<archive>: <path upstream>``, for messages."""
    return f"{target.archive}: {target.upstream[-1]}" if target.upstream else target.name


def lock_path(home: Path, sha256: str) -> Path:
    """The lock file guarding the download of ``sha256`` (for tests and fsck).

    :param home: the home directory.
    :param sha256: the blob.
    """
    return home / "locks" / "fetch" / f"{sha256}.lock"
