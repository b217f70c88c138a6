"""The blob store contract: content-addressed bytes, named by their SHA-256.

A blob is stored once under the address that :func:`blob_key` gives its digest, whatever
the backend. Bytes reach a store through a :class:`BlobWriter`, which hashes while it
writes and refuses, on :meth:`BlobWriter.commit`, anything that does not match what the
caller expected: an unverified blob is never visible.

>>> blob_key("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
'sha256/e3/b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, runtime_checkable

from repoversion.errors import DigestMismatch, NotFound
from repoversion.storage.streams import CHUNK_SIZE, iter_chunks

#: Chunk size used when copying streams into and out of a store.

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


class InvalidDigest(NotFound, ValueError):
    """A string that is not a SHA-256 digest was used as a blob's name.

    It is a :class:`~repoversion.errors.NotFound` (no blob can have that name, so a web
    request for it is a 404) and a :class:`ValueError` (for programming mistakes).
    """

    code = "invalid_digest"


def check_digest(sha256: str) -> str:
    """Return ``sha256`` unchanged if it is 64 lowercase hexadecimal digits.

    :param sha256: the candidate digest.
    :raises InvalidDigest: for anything else, such as ``../../etc/passwd``.
    """
    if not isinstance(sha256, str) or not _DIGEST_RE.fullmatch(sha256):
        # Never echo a long or hostile string back in full.
        shown = repr(sha256)[:80]
        raise InvalidDigest(f"{shown} is not a SHA-256 digest (64 lowercase hex digits).")
    return sha256


def blob_key(sha256: str) -> str:
    """Return the address of a blob inside any store: ``sha256/<hex[0:2]>/<hex[2:]>``.

    This is the only function that decides where a blob lives; both backends, the docs
    (``docs/storage.md``) and fsck rely on it.

    :param sha256: the blob's digest, 64 lowercase hex digits.
    :raises InvalidDigest: when ``sha256`` is not such a digest.
    """
    check_digest(sha256)
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def quarantine_key(sha256: str, attempt: int = 0) -> str:
    """Where :meth:`BlobStore.quarantine` moves a blob, relative to the store's root: a
    directory beside ``sha256/`` that no listing of blobs reads.

    >>> quarantine_key(64 * "a", 2)[-20:]
    'aaaaaaaaaaaaaaaaaa.2'

    :param sha256: the blob's digest.
    :param attempt: 0 for the first copy quarantined under that digest, then 1, 2…
    :raises InvalidDigest: when ``sha256`` is not a digest.
    """
    check_digest(sha256)
    return f"quarantine/{sha256}" + (f".{attempt}" if attempt else "")


def digest_from_key(key: str) -> str | None:
    """Invert :func:`blob_key`: the digest a key names, or ``None`` for a foreign key.

    :param key: a key relative to the store's root, with ``/`` separators.
    """
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "sha256":
        return None
    digest = parts[1] + parts[2]
    if len(parts[1]) != 2 or not _DIGEST_RE.fullmatch(digest):
        return None
    return digest


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A blob by digest and size: what a store returns for a committed blob, and how
    every other module names one."""

    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob as a listing of the store sees it: its digest, its size in the store, and
    when it was last written, or reused by a put of the same bytes (the age the garbage
    collector's grace is measured against)."""

    sha256: str
    size: int
    modified: datetime


class BlobWriter:
    """Receives a blob's bytes, hashing them as they come; a context manager.

    Backends subclass it and implement :meth:`_write_chunk`, :meth:`_store` and
    :meth:`_discard`. Leaving a ``with`` block without :meth:`commit` (for instance
    because of an exception) aborts, and nothing is stored.
    """

    def __init__(self, expected_sha256: str | None = None, expected_size: int | None = None):
        """:param expected_sha256: the digest the bytes must have, if known.
        :param expected_size: the number of bytes expected, if known.
        :raises InvalidDigest: when ``expected_sha256`` is not a digest.
        :raises ValueError: when ``expected_size`` is negative.
        """
        if expected_sha256 is not None:
            check_digest(expected_sha256)
        if expected_size is not None and expected_size < 0:
            raise ValueError("expected_size must not be negative")
        self.expected_sha256 = expected_sha256
        self.expected_size = expected_size
        self._hash = hashlib.sha256()
        self._size = 0
        self._closed = False

    @property
    def size(self) -> int:
        """Number of bytes written so far."""
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append bytes to the blob.

        :param data: the next bytes.
        :raises DigestMismatch: as soon as more bytes than ``expected_size`` arrive
            (the writer is then aborted).
        :raises ValueError: when the writer was already committed or aborted.
        """
        self._check_open()
        if not data:
            return 0
        self._size += len(data)
        if self.expected_size is not None and self._size > self.expected_size:
            # Fail early rather than spooling an endless stream.
            self.abort()
            raise DigestMismatch(
                f"Blob is larger than the expected {self.expected_size} bytes.",
                expected=str(self.expected_size),
                actual=f">{self.expected_size}",
            )
        self._hash.update(data)
        self._write_chunk(data)
        return len(data)

    def commit(self) -> BlobRef:
        """Verify the bytes and make the blob visible under :func:`blob_key`.

        If a blob with the same digest already exists it is kept and the new copy dropped.

        :raises DigestMismatch: when the digest or size differs from what was expected;
            nothing is stored then.
        :raises StorageError: when the backend fails.
        """
        self._check_open()
        actual = self._hash.hexdigest()
        try:
            if self.expected_size is not None and self._size != self.expected_size:
                raise DigestMismatch(
                    f"Blob has {self._size} bytes, expected {self.expected_size}.",
                    expected=str(self.expected_size),
                    actual=str(self._size),
                )
            if self.expected_sha256 is not None and actual != self.expected_sha256:
                raise DigestMismatch(
                    f"Blob has sha256 {actual}, expected {self.expected_sha256}.",
                    expected=self.expected_sha256,
                    actual=actual,
                )
            info = BlobRef(actual, self._size)
            self._store(info)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return info

    def abort(self) -> None:
        """Drop everything written so far. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._discard()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this blob writer is already committed or aborted")

    # Backend hooks.

    def _write_chunk(self, data: bytes | bytearray | memoryview) -> None:
        raise NotImplementedError

    def _store(self, info: BlobRef) -> None:
        """Make the verified bytes visible as ``info.sha256``."""
        raise NotImplementedError

    def _discard(self) -> None:
        """Release whatever holds unverified bytes."""
        raise NotImplementedError


@runtime_checkable
class BlobStore(Protocol):
    """A content-addressed store of blobs: what every backend offers.

    Every method taking a digest raises :class:`InvalidDigest` (a ``NotFound``) when it is
    not 64 lowercase hex digits, before touching the backend.
    """

    def writer(
        self, expected_sha256: str | None = None, expected_size: int | None = None
    ) -> BlobWriter:
        """Start a new blob; see :class:`BlobWriter`."""
        ...

    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> BlobRef:
        """Store a stream (a binary file or an iterable of chunks), hashing as it goes.

        :raises DigestMismatch: when the bytes are not what was expected.
        """
        ...

    def put_bytes(self, data: bytes, expected_sha256: str | None = None) -> BlobRef:
        """Store a blob held in memory."""
        ...

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        """Open a blob, or the byte range ``[start, start + length)`` of it, for reading.

        A range reaching past the end is cut at the end; ``start`` past the end gives an
        empty stream.

        :raises NotFound: when there is no such blob.
        :raises ValueError: when ``start`` or ``length`` is negative.
        """
        ...

    def read_bytes(self, sha256: str) -> bytes:
        """Return a whole blob. :raises NotFound: when absent."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        ...

    def size(self, sha256: str) -> int:
        """Size of a stored blob in bytes. :raises NotFound: when absent."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove a blob; removing an absent blob is not an error."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob (in no promised order)."""
        ...

    def iter_blobs(self) -> Iterator[BlobRef]:
        """Yield every stored blob with the size it has in the store (in no promised
        order); a corrupt blob's size may differ from the one recorded for its digest."""
        ...

    def iter_stored(self) -> Iterator[StoredBlob]:
        """Yield every stored blob with its size and when it was last written or reused
        (in no promised order): what the garbage collector lists."""
        ...

    def delete_if_older(self, sha256: str, cutoff: datetime) -> bool:
        """Delete the blob unless it was written, or reused by a put, at or after
        ``cutoff``: the garbage collector's delete, which spares a blob a writer has just
        taken up again.

        :returns: whether it was deleted (False: absent, or written since ``cutoff``).
        """
        ...

    def quarantine(self, sha256: str) -> str:
        """Move a blob away from its address, keeping its bytes for inspection (fsck does
        this to a blob whose bytes no longer hash to its name).

        :returns: where it went, relative to the store's root: ``quarantine/<sha256>``,
            or ``quarantine/<sha256>.<n>`` when that name is taken.
        :raises NotFound: when absent.
        """
        ...

    def local_path(self, sha256: str) -> Path | None:
        """The blob's file on this machine (for sendfile), or ``None`` if not on a disk.

        :raises NotFound: when a disk-backed store does not have the blob.
        """
        ...

    def presigned_url(self, sha256: str, expires: int = 300) -> str | None:
        """A URL anyone may GET for ``expires`` seconds, or ``None`` if unsupported."""
        ...

    def verify(self, sha256: str) -> bool:
        """Re-hash the stored bytes: ``True`` when they still match the name.

        :raises NotFound: when absent.
        """
        ...

    def sweep_leftovers(self) -> int:
        """Remove what writers that died left behind (partial files, unfinished
        uploads), never what a live writer is still writing.

        :returns: how many leftovers were removed.
        """
        ...


class BlobStoreBase:
    """The parts of :class:`BlobStore` every backend shares, built on ``writer``/``open``."""

    def writer(
        self, expected_sha256: str | None = None, expected_size: int | None = None
    ) -> BlobWriter:
        raise NotImplementedError

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        raise NotImplementedError

    def put(
        self,
        stream: BinaryIO | Iterable[bytes],
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> BlobRef:
        """See :meth:`BlobStore.put`."""
        with self.writer(expected_sha256, expected_size) as w:
            for chunk in iter_chunks(stream):
                w.write(chunk)
            return w.commit()

    def put_bytes(self, data: bytes, expected_sha256: str | None = None) -> BlobRef:
        """See :meth:`BlobStore.put_bytes`."""
        return self.put([data], expected_sha256, len(data))

    def read_bytes(self, sha256: str) -> bytes:
        """See :meth:`BlobStore.read_bytes`."""
        with self.open(sha256) as f:
            return f.read()

    def verify(self, sha256: str) -> bool:
        """See :meth:`BlobStore.verify`."""
        h = hashlib.sha256()
        with self.open(sha256) as f:
            while chunk := f.read(CHUNK_SIZE):
                h.update(chunk)
        return h.hexdigest() == sha256
