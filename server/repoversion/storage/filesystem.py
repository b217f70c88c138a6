"""Blob store on a local (or network) filesystem.

Layout under ``root``::

    tmp/                      blobs being written (never read, safe to empty when idle)
    sha256/<hex[0:2]>/<hex[2:]>   committed blobs, read-only (0o444)

A blob is written to a temporary file in ``tmp/``, fsynced, renamed into place and its
directory fsynced, so a crash leaves either the whole verified blob or nothing. Two
writers of the same blob both rename identical bytes onto the same name, which is safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from repoversion.errors import NotFound, StorageError

from .base import (
    BlobRef,
    BlobStoreBase,
    BlobWriter,
    StoredBlob,
    blob_key,
    digest_from_key,
    quarantine_key,
)
from .streams import check_range, limited

BLOB_MODE = 0o444


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _refresh(path: Path) -> bool:
    """Mark a stored blob as just written (its mtime), since a put reuses it: the garbage
    collector spares blobs written within its grace. False when it is gone meanwhile (the
    collector took it), so the caller stores its own copy."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    except PermissionError:
        pass  # another user's blob: still there, only its age cannot be refreshed
    return True


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)


class FileSystemWriter(BlobWriter):
    """Writes a blob to ``<root>/tmp/`` and renames it into place on commit."""

    def __init__(
        self,
        store: FileSystemStore,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> None:
        super().__init__(expected_sha256, expected_size)
        self._store_ref = store
        try:
            store.tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="blob-", suffix=".part", dir=store.tmp_dir)
            # held until the file is closed, or its writer dies: sweep_leftovers takes
            # only files nobody holds
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:
            raise StorageError(f"Cannot create a temporary file in {store.tmp_dir}: {e}") from e
        self._tmp_path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    def _write_chunk(self, data: bytes | bytearray | memoryview) -> None:
        assert self._file is not None  # the base class refuses writes once closed
        try:
            self._file.write(data)
        except OSError as e:
            raise StorageError(f"Cannot write to {self._tmp_path}: {e}") from e

    def _store(self, info: BlobRef) -> None:
        final = self._store_ref.path_of(info.sha256)
        try:
            assert self._file is not None
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            if final.exists() and _refresh(final):
                # Content-addressed: the blob already there has the same bytes.
                self._tmp_path.unlink()
                return
            os.chmod(self._tmp_path, BLOB_MODE)
            created = not final.parent.exists()
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp_path, final)
            _fsync_dir(final.parent)
            if created:
                _fsync_dir(final.parent.parent)
        except OSError as e:
            raise StorageError(f"Cannot store blob {info.sha256}: {e}") from e

    def _discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp_path.unlink()


class FileSystemStore(BlobStoreBase):
    """Blobs as files under a root directory.

    :param root: the store's directory; created on first write.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"

    def __repr__(self) -> str:
        return f"FileSystemStore({str(self.root)!r})"

    def sweep_leftovers(self) -> int:
        """See :meth:`BlobStore.sweep_leftovers`: ``tmp/*.part`` files no writer holds."""
        removed = 0
        for path in sorted(self.tmp_dir.glob("*.part")) if self.tmp_dir.is_dir() else []:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer holds it
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
            finally:
                os.close(fd)
        return removed

    def path_of(self, sha256: str) -> Path:
        """Where the blob's file is or would be.

        :raises InvalidDigest: when ``sha256`` is not a digest (so no path is ever built
            from a hostile string).
        """
        return self.root / blob_key(sha256)

    def _existing(self, sha256: str) -> Path:
        path = self.path_of(sha256)
        if not path.is_file():
            raise NotFound(f"Blob {sha256} is not in the store.")
        return path

    def writer(
        self, expected_sha256: str | None = None, expected_size: int | None = None
    ) -> FileSystemWriter:
        """See :meth:`BlobStore.writer`."""
        return FileSystemWriter(self, expected_sha256, expected_size)

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        """See :meth:`BlobStore.open`."""
        check_range(start, length)
        path = self.path_of(sha256)
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"Blob {sha256} is not in the store.") from None
        except OSError as e:
            raise StorageError(f"Cannot open blob {sha256}: {e}") from e
        if start:
            f.seek(start)
        if length is None:
            return f  # a real file: callers may use its fileno() for sendfile
        return limited(f, length)

    def exists(self, sha256: str) -> bool:
        """See :meth:`BlobStore.exists`."""
        return self.path_of(sha256).is_file()

    def size(self, sha256: str) -> int:
        """See :meth:`BlobStore.size`."""
        try:
            return self.path_of(sha256).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"Blob {sha256} is not in the store.") from None

    def delete(self, sha256: str) -> None:
        """See :meth:`BlobStore.delete`. Empty directories are left for later writers."""
        with contextlib.suppress(FileNotFoundError):
            self.path_of(sha256).unlink()

    def iter_digests(self) -> Iterator[str]:
        """See :meth:`BlobStore.iter_digests`; in sorted order, ``tmp/`` skipped."""
        for digest, _entry in self._blob_entries():
            yield digest

    def iter_blobs(self) -> Iterator[BlobRef]:
        """See :meth:`BlobStore.iter_blobs`; in sorted order, ``tmp/`` skipped."""
        for digest, entry in self._blob_entries():
            try:
                yield BlobRef(digest, entry.stat(follow_symlinks=False).st_size)
            except FileNotFoundError:
                continue  # deleted since the directory was read

    def iter_stored(self) -> Iterator[StoredBlob]:
        """See :meth:`BlobStore.iter_stored`; in sorted order, the age is the mtime."""
        for digest, entry in self._blob_entries():
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted since the directory was read
            yield StoredBlob(digest, st.st_size, _mtime(st))

    def delete_if_older(self, sha256: str, cutoff: datetime) -> bool:
        """See :meth:`BlobStore.delete_if_older`.

        The blob is renamed into ``tmp/`` first (atomic), and its mtime read only then: a
        writer that refreshed it before the rename has it put back, and one that comes
        after finds no blob and stores its own copy. Locked while it is there, as a
        writer's file is, so ``sweep_leftovers`` takes it only if this process dies.
        """
        path = self.path_of(sha256)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            trash = self.tmp_dir / f"gc-{sha256[:16]}-{uuid.uuid4().hex[:8]}.part"
            try:
                os.rename(path, trash)
            except FileNotFoundError:
                return False
            if _mtime(os.fstat(fd)) >= cutoff:
                os.rename(trash, path)  # written again since the cutoff: it stays
                return False
            trash.unlink()
            return True
        except OSError as e:
            raise StorageError(f"Cannot delete blob {sha256}: {e}") from e
        finally:
            os.close(fd)

    def _blob_entries(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        top = self.root / "sha256"
        if not top.is_dir():
            return
        for sub in sorted(os.scandir(top), key=lambda e: e.name):
            if not sub.is_dir(follow_symlinks=False):
                continue
            for entry in sorted(os.scandir(sub.path), key=lambda e: e.name):
                digest = digest_from_key(f"sha256/{sub.name}/{entry.name}")
                if digest is not None and entry.is_file(follow_symlinks=False):
                    yield digest, entry

    def quarantine(self, sha256: str) -> str:
        """See :meth:`BlobStore.quarantine`: a rename to ``<root>/quarantine/``."""
        source = self.path_of(sha256)
        attempt = 0
        while (self.root / quarantine_key(sha256, attempt)).exists():
            attempt += 1
        name = quarantine_key(sha256, attempt)
        target = self.root / name
        try:
            target.parent.mkdir(exist_ok=True)
            os.rename(source, target)
            _fsync_dir(target.parent)
            _fsync_dir(source.parent)
        except FileNotFoundError:
            raise NotFound(f"Blob {sha256} is not in the store.") from None
        except OSError as e:
            raise StorageError(f"Cannot move blob {sha256} to {target}: {e}") from e
        return name

    def local_path(self, sha256: str) -> Path:
        """See :meth:`BlobStore.local_path`: the blob's real file.

        :raises NotFound: when the blob is not stored.
        """
        return self._existing(sha256)

    def presigned_url(self, sha256: str, expires: int = 300) -> str | None:
        """A filesystem has no URLs: always ``None`` (the digest is still checked)."""
        blob_key(sha256)
        return None
