"""Fetch-through: download a file a version references but storage lacks, then serve it.

One download per missing blob, however many threads and worker processes ask at once:
the first takes an ``flock`` on ``<home>/locks/fetch/<sha256>.lock`` and downloads; the
others wait on the lock and find the blob stored. The bytes are hashed while they stream
into the store and only committed when size and SHA-256 match, so a mismatch stores
nothing, and the client, answered only after the commit, never gets a bad byte.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from repoversion.config import Settings
from repoversion.db.models import Archive, Blob
from repoversion.db.session import transaction
from repoversion.errors import BadUpstream, DigestMismatch, NotFound
from repoversion.serving.locks import file_lock
from repoversion.serving.target import Target
from repoversion.storage.base import BlobStore
from repoversion.upstream.http import NotFoundUpstream, Upstream, parse_auth_conf

log = logging.getLogger(__name__)


class UpstreamGone(NotFound):
    """The file is not stored and upstream no longer has it."""

    code = "upstream_gone"


Count = Callable[..., None]


class Fetcher:
    """Downloads missing blobs from their upstream archive, once each.

    :param settings: for the lock directory, auth.conf, retries and timeouts.
    :param sessions: to read archive CAs and record fetched blobs.
    :param store: where blobs go.
    :param count: ``count(metric, value=1, **labels)``, e.g. :meth:`Metrics.inc`.
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
        self._upstreams: dict[tuple[str, str], Upstream] = {}
        self._guard = threading.Lock()

    def ensure(self, target: Target, url: str) -> bool:
        """Make sure ``target``'s blob is stored, downloading it if needed.

        :param target: what to have; ``target.upstream`` says where upstream has it.
        :param url: the archive's URL (as the version recorded it).
        :returns: whether this call downloaded it.
        :raises NotFound: it cannot be fetched (generated here, or no upstream path).
        :raises UpstreamGone: upstream answers 404 for every path.
        :raises DigestMismatch: upstream's bytes are not the ones the version lists.
        :raises BadUpstream: upstream cannot be reached.
        """
        sha = target.sha256
        if self.store.exists(sha):
            return False
        if target.archive is None or not target.upstream:
            raise NotFound(f"{target.name} is not stored (blob {sha}).")
        lock = lock_path(self.settings.home, sha)
        with file_lock(lock):
            if self.store.exists(sha):
                return False
            self._download(target, url)
            # Everyone who waits on this lock finds the blob stored: safe to remove.
            lock.unlink(missing_ok=True)
        return True

    def _download(self, target: Target, url: str) -> None:
        assert target.archive is not None
        up = self._upstream(target.archive, url)
        error: BadUpstream | None = None
        for path in target.upstream:
            try:
                info = up.stream_to_store(path, self.store, target.size, target.sha256)
            except NotFoundUpstream as exc:
                error = exc
                continue
            except DigestMismatch as exc:
                error = exc
                continue
            except BadUpstream as exc:
                self.count("repoversion_fetch_failures_total", reason=exc.code)
                raise
            self.count("repoversion_fetch_downloads_total")
            self.count("repoversion_fetch_download_bytes_total", info.size)
            self._record(info.sha256, info.size)
            log.info("%s: fetched %s (%d bytes)", target.archive, path, info.size)
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

    def _upstream(self, archive: str, url: str) -> Upstream:
        with self._guard:
            up = self._upstreams.get((archive, url))
            if up is None:
                with transaction(self._sessions()) as s:
                    ca = s.scalar(select(Archive.ca).where(Archive.name == archive))
                conf = self.settings.auth_conf
                auth = parse_auth_conf(conf.read_text()) if conf.is_file() else []
                up = Upstream(
                    url,
                    archive,
                    ca_pem=ca,
                    auth=auth,
                    retries=self.settings.download_retries,
                    timeout=self.settings.download_timeout,
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

    def close(self) -> None:
        """Close upstream connections."""
        with self._guard:
            for up in self._upstreams.values():
                up.close()
            self._upstreams.clear()


def lock_path(home: Path, sha256: str) -> Path:
    """The lock file guarding the download of ``sha256`` (for tests and fsck).

    :param home: the home directory.
    :param sha256: the blob.
    """
    return home / "locks" / "fetch" / f"{sha256}.lock"
