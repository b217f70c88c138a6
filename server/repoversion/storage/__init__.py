"""Content-addressed blob storage: where package files and indices live.

:func:`open_store` turns the ``storage_url`` setting into a :class:`BlobStore`:

- ``file:///var/lib/repoversion/blobs`` → :class:`FileSystemStore`;
- ``s3://bucket`` or ``s3://bucket/some/prefix`` → ``S3Store`` (boto3 is imported only
  then).

Every blob lives at :func:`blob_key` of its SHA-256 (see ``docs/storage.md``).

>>> open_store("file:///srv/blobs")
FileSystemStore('/srv/blobs')
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from repoversion.errors import ConfigError

from .base import BlobRef, BlobStore, BlobWriter, InvalidDigest, blob_key
from .filesystem import FileSystemStore

__all__ = [
    "BlobRef",
    "BlobStore",
    "BlobWriter",
    "FileSystemStore",
    "InvalidDigest",
    "blob_key",
    "open_store",
]

# S3's rules for bucket names, minus the rarely-used dotted forms' subtleties.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def open_store(
    storage_url: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
    s3_access_key: str | None = None,
    s3_secret_key: str | None = None,
) -> BlobStore:
    """Open the blob store a URL names.

    :param storage_url: ``file:///absolute/path`` or ``s3://bucket[/prefix]``.
    :param s3_endpoint_url: an S3-compatible server; ``None`` for AWS.
    :param s3_region: the bucket's region.
    :param s3_access_key: S3 credentials, both or neither (neither: boto3's usual
        chain, such as ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``).
    :param s3_secret_key: see ``s3_access_key``.
    :raises ConfigError: when the URL or the S3 settings are malformed.
    """
    parts = urlsplit(storage_url)
    if parts.username is not None or parts.password is not None:
        # Do not echo the URL: it would carry a secret into logs.
        raise ConfigError(
            "storage_url must not contain credentials; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY instead."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"storage_url {storage_url!r} must not have a query or fragment.")
    if parts.scheme == "file":
        return _open_file(storage_url, parts.netloc, parts.path)
    if parts.scheme == "s3":
        return _open_s3(
            storage_url,
            parts.netloc,
            parts.path,
            endpoint_url=s3_endpoint_url,
            region=s3_region,
            access_key=s3_access_key,
            secret_key=s3_secret_key,
        )
    raise ConfigError(
        f"storage_url {storage_url!r} must start with file:/// or s3:// "
        "(for example file:///var/lib/repoversion/blobs or s3://bucket/prefix)."
    )


def _open_file(url: str, host: str, path: str) -> FileSystemStore:
    if host not in ("", "localhost") or not path.startswith("/"):
        raise ConfigError(
            f"storage_url {url!r} must name an absolute path, such as file:///srv/blobs."
        )
    return FileSystemStore(Path(unquote(path)))


def _open_s3(
    url: str,
    bucket: str,
    path: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key: str | None,
    secret_key: str | None,
) -> BlobStore:
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(f"storage_url {url!r} does not name a valid S3 bucket.")
    if (access_key is None) != (secret_key is None):
        raise ConfigError("Set both the S3 access key and the S3 secret key, or neither.")
    if endpoint_url is not None and urlsplit(endpoint_url).scheme not in ("http", "https"):
        raise ConfigError(f"s3_endpoint_url {endpoint_url!r} must be an http:// or https:// URL.")
    prefix = unquote(path).strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ConfigError(f"storage_url {url!r} has an empty or relative part in its prefix.")
    from .s3 import S3Store  # boto3 is imported only when S3 is configured

    return S3Store(
        bucket,
        prefix,
        endpoint_url=endpoint_url,
        region=region,
        access_key=access_key,
        secret_key=secret_key,
    )
