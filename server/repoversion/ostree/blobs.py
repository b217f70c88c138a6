"""A deb's bytes for an export: fetched through its archive when not stored, verified.

>>> DebRef("ab" * 32, filename="pool/main/h/hello/hello_1.0_amd64.deb").name
'hello_1.0_amd64.deb'
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import DigestMismatch, NotFound
from repoversion.ostree import records
from repoversion.storage.base import BlobStore, check_digest


@dataclass(frozen=True)
class DebRef:
    """A deb to export: its sha256 and, to fetch it when it is not stored, where upstream
    has it (``archive``, pool ``filename``, the archive's ``url``) and its ``size``."""

    sha256: str
    size: int | None = None
    archive: str | None = None
    filename: str | None = None
    url: str | None = None

    @property
    def name(self) -> str:
        """Its file name (``deb`` when unknown), for messages."""
        return self.filename.rsplit("/", 1)[-1] if self.filename else "deb"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DebRef:
        """:raises InvalidInput: no valid sha256."""
        return cls(
            check_digest(str(data.get("sha256", ""))),
            int(data["size"]) if data.get("size") is not None else None,
            data.get("archive"),
            data.get("filename"),
            data.get("url"),
        )


class DebSource:
    """Has debs stored: fetched through (one download per blob, verified while it streams,
    as ``/v/`` fetches) from the archive that lists them.

    :param ctx: settings, database and store.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._fetcher: Any = None
        self._guard = threading.Lock()

    def have(self, deb: DebRef) -> None:
        """Make sure the deb's blob is stored, fetching it through its archive.

        :raises NotFound: not stored, and no archive to fetch it from.
        """
        store = self.ctx.store
        if store.exists(deb.sha256):
            return
        if deb.archive is None or deb.filename is None or deb.url is None or deb.size is None:
            with transaction(self.ctx.sessions) as s:
                where = records.where_to_fetch(s, [deb.sha256]).get(deb.sha256)
            if where is None:
                raise NotFound(f"The deb {deb.sha256} is not stored and no archive lists it.")
            archive, filename, size, url = where
            deb = DebRef(deb.sha256, size, archive, filename, url)
        from repoversion.serving.fetch import Fetcher
        from repoversion.serving.target import Target

        with self._guard:
            if self._fetcher is None:
                self._fetcher = Fetcher(self.ctx.settings, lambda: self.ctx.sessions, store)
        assert deb.size is not None and deb.filename is not None and deb.url is not None
        target = Target(deb.sha256, deb.size, deb.name, deb.archive, (deb.filename,))
        self._fetcher.ensure(target, deb.url)

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()


@contextmanager
def verified_file(store: BlobStore, sha256: str, what: str) -> Iterator[Path]:
    """The blob as a local file whose bytes hash to ``sha256`` (a copy when the store is
    not a filesystem).

    :raises DigestMismatch: the stored bytes are not the deb's (``fsck --repair`` mends it).
    """
    local = store.local_path(sha256)
    with tempfile.TemporaryDirectory(prefix="repoversion-deb-") as tmp:
        path = local if local is not None else Path(tmp) / "deb"
        digest = hashlib.sha256()
        with store.open(sha256) as src:
            copy = None if local is not None else open(path, "wb")  # noqa: SIM115
            try:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    if copy is not None:
                        copy.write(chunk)
            finally:
                if copy is not None:
                    copy.close()
        if digest.hexdigest() != sha256:
            raise DigestMismatch(
                f"The stored {what} does not hash to its sha256; `repoversion fsck --repair` "
                "replaces it.",
                expected=sha256,
                actual=digest.hexdigest(),
            )
        yield path
