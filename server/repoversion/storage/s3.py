"""Blob store in an S3 bucket (AWS or any S3-compatible server), through boto3.

This is the only module of repoversion that imports boto3. Blobs live at
``<prefix>/<blob_key>``. A writer spools the bytes to a temporary file while hashing them,
so nothing unverified is ever uploaded; once verified they are uploaded in one request,
or in parts above ``multipart_threshold``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import boto3
import botocore.config
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from repoversion.errors import NotFound, StorageError

from .base import (
    BlobRef,
    BlobStoreBase,
    BlobWriter,
    StoredBlob,
    blob_key,
    check_digest,
    digest_from_key,
    quarantine_key,
)
from .streams import check_range, limited

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef

MiB = 1024 * 1024
#: an unfinished multipart upload older than this has lost its writer
STALE_UPLOAD = timedelta(hours=1)
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


def _error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


class S3Writer(BlobWriter):
    """Spools a blob to a temporary file while hashing; uploads it on commit."""

    def __init__(
        self,
        store: S3Store,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> None:
        super().__init__(expected_sha256, expected_size)
        self._s3 = store
        # Small blobs (index files) stay in memory, large ones go to disk. The writer owns
        # the spool until commit or abort, so no `with` block can hold it.
        spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=store.spool_memory, dir=store.spool_dir
        )
        self._spool: tempfile.SpooledTemporaryFile[bytes] | None = spool

    def _write_chunk(self, data: bytes | bytearray | memoryview) -> None:
        assert self._spool is not None  # the base class refuses writes once closed
        try:
            self._spool.write(data)
        except OSError as e:
            raise StorageError(f"Cannot spool a blob to a temporary file: {e}") from e

    def _store(self, info: BlobRef) -> None:
        assert self._spool is not None
        if self._s3.exists(info.sha256) and self._s3._refresh(info.sha256):
            return  # content-addressed: the stored copy has the same bytes
        self._spool.seek(0)
        self._s3._upload(self._spool, info)

    def _discard(self) -> None:
        if self._spool is not None:
            with contextlib.suppress(OSError):
                self._spool.close()
            self._spool = None


class S3Store(BlobStoreBase):
    """Blobs as objects in an S3 bucket.

    :param bucket: the bucket's name; it must exist.
    :param prefix: a key prefix for all blobs (``""`` for the bucket's root).
    :param endpoint_url: an S3-compatible server (MinIO, Ceph...); path-style addressing
        is used with it. ``None`` for AWS.
    :param region: the bucket's region, ``None`` for the default chain.
    :param access_key: credentials; both or neither. With neither, boto3's usual chain
        (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, profiles, instance roles).
    :param secret_key: see ``access_key``.
    :param multipart_threshold: blobs at least this large are uploaded in parts.
    :param multipart_chunksize: part size (S3 requires at least 5 MiB).
    :param max_pool_connections: HTTP connections kept open to the endpoint.
    :param spool_memory: blobs up to this size are spooled in memory, larger on disk.
    :param spool_dir: where spooled blobs go (default: the system's temporary dir).

    No request is made here: a missing bucket or bad credentials show up on first use
    as :class:`~repoversion.errors.StorageError`.
    """

    def __init__(  # noqa: PLR0913 - keyword-only tuning knobs, each with a default
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        multipart_threshold: int = 64 * MiB,
        multipart_chunksize: int = 8 * MiB,
        max_pool_connections: int = 32,
        spool_memory: int = 4 * MiB,
        spool_dir: Path | str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.spool_memory = spool_memory
        self.spool_dir = str(spool_dir) if spool_dir is not None else None
        config = botocore.config.Config(
            region_name=region,
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=max_pool_connections,
            connect_timeout=10,
            read_timeout=60,
            tcp_keepalive=True,
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # We verify SHA-256 ourselves; S3-compatible servers often reject the
            # newer default CRC checksums, so only send them when the API requires it.
            request_checksum_calculation="when_required" if endpoint_url else "when_supported",
            response_checksum_validation="when_required" if endpoint_url else "when_supported",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )
        self.client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def key_of(self, sha256: str) -> str:
        """The object key of a blob: ``<prefix>/<blob_key>``.

        :raises InvalidDigest: when ``sha256`` is not a digest.
        """
        key = blob_key(sha256)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, sha256: str, e: Exception) -> NoReturn:
        if isinstance(e, ClientError):
            code = _error_code(e)
            if code in _NOT_FOUND_CODES:
                raise NotFound(f"Blob {sha256} is not in the store.") from None
            raise StorageError(f"S3 could not {action} blob {sha256} ({code}).") from e
        raise StorageError(f"S3 could not {action} blob {sha256}: {e}") from e

    def _upload(
        self, fileobj: BinaryIO | tempfile.SpooledTemporaryFile[bytes], info: BlobRef
    ) -> None:
        """Upload verified bytes as ``info.sha256`` (only :class:`S3Writer` may call it).

        :raises StorageError: when the upload fails.
        """
        try:
            self.client.upload_fileobj(
                fileobj,
                self.bucket,
                self.key_of(info.sha256),
                ExtraArgs={
                    "ContentType": "application/octet-stream",
                    "Metadata": {"sha256": info.sha256},
                },
                Config=self.transfer_config,
            )
        except (BotoCoreError, ClientError) as e:
            self._fail("upload", info.sha256, e)

    def _refresh(self, sha256: str) -> bool:
        """Mark a stored blob as just written, since a put reuses it (a copy onto itself
        renews ``LastModified``): the garbage collector spares blobs written within its
        grace. False when it is gone meanwhile (collected), so the caller uploads it."""
        key = self.key_of(sha256)
        try:
            self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                MetadataDirective="REPLACE",
                ContentType="application/octet-stream",
                Metadata={"sha256": sha256},
            )
        except ClientError as e:
            if _error_code(e) in _NOT_FOUND_CODES:
                return False
            # still there, only its age stays (an object over 5 GB cannot be copied in
            # one request): the put must not fail for that
        except BotoCoreError:
            pass
        return True

    def writer(
        self, expected_sha256: str | None = None, expected_size: int | None = None
    ) -> S3Writer:
        """See :meth:`BlobStore.writer`."""
        return S3Writer(self, expected_sha256, expected_size)

    def _head(self, sha256: str) -> Any:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except (BotoCoreError, ClientError) as e:
            self._fail("inspect", sha256, e)

    def open(self, sha256: str, start: int = 0, length: int | None = None) -> BinaryIO:
        """See :meth:`BlobStore.open`; ranges become ``Range: bytes=`` requests."""
        check_range(start, length)
        key = self.key_of(sha256)
        if length == 0:
            self._head(sha256)
            return io.BytesIO()
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            args["Range"] = f"bytes={start}-{end}"
        try:
            response = self.client.get_object(**args)
        except ClientError as e:
            if _error_code(e) == "InvalidRange":
                return io.BytesIO()  # start is past the end: the blob exists
            self._fail("read", sha256, e)
        except BotoCoreError as e:
            self._fail("read", sha256, e)
        return limited(response["Body"])

    def exists(self, sha256: str) -> bool:
        """See :meth:`BlobStore.exists`."""
        check_digest(sha256)  # an InvalidDigest is a NotFound: raise it, not False
        try:
            self._head(sha256)
        except NotFound:
            return False
        return True

    def size(self, sha256: str) -> int:
        """See :meth:`BlobStore.size`."""
        return int(self._head(sha256)["ContentLength"])

    def delete(self, sha256: str) -> None:
        """See :meth:`BlobStore.delete`."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key_of(sha256))
        except (BotoCoreError, ClientError) as e:
            self._fail("delete", sha256, e)

    def iter_digests(self) -> Iterator[str]:
        """See :meth:`BlobStore.iter_digests`; in key order, foreign keys skipped."""
        for blob in self.iter_blobs():
            yield blob.sha256

    def iter_blobs(self) -> Iterator[BlobRef]:
        """See :meth:`BlobStore.iter_blobs`; in key order, foreign keys skipped."""
        for blob in self.iter_stored():
            yield BlobRef(blob.sha256, blob.size)

    def iter_stored(self) -> Iterator[StoredBlob]:
        """See :meth:`BlobStore.iter_stored`; in key order, the age is ``LastModified``."""
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{root}sha256/"):
                for obj in page.get("Contents", []):
                    digest = digest_from_key(obj["Key"][len(root) :])
                    if digest is not None:
                        yield StoredBlob(digest, int(obj["Size"]), obj["LastModified"])
        except (BotoCoreError, ClientError) as e:
            raise StorageError(f"S3 could not list bucket {self.bucket}: {e}") from e

    def delete_if_older(self, sha256: str, cutoff: datetime) -> bool:
        """See :meth:`BlobStore.delete_if_older`: ``LastModified`` is read again, then
        the object deleted (S3 has no delete conditional on age: a put that reuses the
        blob between the two requests loses it, a window of one round trip)."""
        try:
            modified = self._head(sha256)["LastModified"]
        except NotFound:
            return False
        if modified >= cutoff:
            return False
        self.delete(sha256)
        return True

    def quarantine(self, sha256: str) -> str:
        """See :meth:`BlobStore.quarantine`: copied under ``<prefix>/quarantine/``, then
        removed from its address (S3 has no rename)."""
        root = f"{self.prefix}/" if self.prefix else ""
        attempt = 0
        while self._key_exists(root + quarantine_key(sha256, attempt)):
            attempt += 1
        name = quarantine_key(sha256, attempt)
        source: CopySourceTypeDef = {"Bucket": self.bucket, "Key": self.key_of(sha256)}
        try:
            self.client.copy(source, self.bucket, root + name, Config=self.transfer_config)
        except (BotoCoreError, ClientError) as e:
            self._fail("quarantine", sha256, e)
        self.delete(sha256)
        return name

    def _key_exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if _error_code(e) in _NOT_FOUND_CODES:
                return False
            raise StorageError(f"S3 could not inspect {key} ({_error_code(e)}).") from e
        except BotoCoreError as e:
            raise StorageError(f"S3 could not inspect {key}: {e}") from e
        return True

    def sweep_leftovers(self, older_than: timedelta = STALE_UPLOAD) -> int:
        """See :meth:`BlobStore.sweep_leftovers`: multipart uploads under the prefix
        started more than ``older_than`` ago (a live upload of a blob takes minutes; the
        bucket's lifecycle rule in docs/storage.md is the backstop)."""
        root = f"{self.prefix}/" if self.prefix else ""
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{root}sha256/"):
                for upload in page.get("Uploads", []):
                    if upload["Initiated"] < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed += 1
        except (BotoCoreError, ClientError) as e:
            raise StorageError(f"S3 could not list uploads of bucket {self.bucket}: {e}") from e
        return removed

    def local_path(self, sha256: str) -> Path | None:
        """Blobs in S3 have no local file: always ``None`` (the digest is still checked)."""
        check_digest(sha256)
        return None

    def presigned_url(self, sha256: str, expires: int = 300) -> str:
        """A GET URL for the blob valid ``expires`` seconds, computed without a request.

        The blob's existence is not checked (a missing one answers 404 to the URL).
        """
        try:
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.key_of(sha256)},
                ExpiresIn=expires,
            )
        except BotoCoreError as e:
            raise StorageError(f"Cannot sign a URL for blob {sha256}: {e}") from e
