"""HTTP responses for blobs: validators, ranges, HEAD, and as little Python as possible.

Every file is named by its SHA-256, so its strong ``ETag`` is ``"<sha256>"``. The body is
sent, in order of preference:

1. as a 302 to a presigned URL (S3 with ``s3_presign``; never cached: ``no-store``);
2. by nginx, through ``X-Accel-Redirect: <prefix>/sha256/ab/cdef…`` (``x_accel_redirect``
   set, filesystem store; nginx then handles ``Range`` itself);
3. by the WSGI server's ``wsgi.file_wrapper`` over the blob's own file (``sendfile``
   under gunicorn), or a stream from the store for ranges and S3.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import Request, Response, g
from werkzeug.http import http_date, parse_date
from werkzeug.wsgi import wrap_file

from repoversion.config import Settings
from repoversion.serving.target import Target
from repoversion.storage.base import BlobStore, blob_key

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
NO_STORE = "no-store"

# ASCII digits only (``\d`` would take other scripts' digits too)
_RANGE = re.compile(r"\s*bytes\s*=\s*([0-9]*)\s*-\s*([0-9]*)\s*")
#: a position with more digits than this is past the end of any file; counting it
#: exactly is pointless, and int() refuses more than 4300 digits
_MAX_DIGITS = 18
_BEYOND = 10**_MAX_DIGITS
_TEXT = "text/plain; charset=utf-8"
_BY_NAME = {
    "InRelease": _TEXT,
    "Release": _TEXT,
    "Release.gpg": "application/pgp-signature",
    "Packages": _TEXT,
    "Sources": _TEXT,
    "repoversion.asc": "application/pgp-keys",
    "repoversion.gpg": "application/pgp-keys",
}
_BY_SUFFIX = {
    "deb": "application/vnd.debian.binary-package",
    "udeb": "application/vnd.debian.binary-package",
    "ddeb": "application/vnd.debian.binary-package",
    "dsc": "text/prs.lines.tag",
    "xz": "application/x-xz",
    "gz": "application/gzip",
    "bz2": "application/x-bzip2",
    "lzma": "application/x-lzma",
    "zst": "application/zstd",
    "json": "application/json",
    "asc": "application/pgp-signature",
    "txt": _TEXT,
}


def content_type(name: str) -> str:
    """The media type of a file name.

    :param name: the last path segment, e.g. ``hello_1.0_amd64.deb``.
    """
    known = _BY_NAME.get(name)
    if known is not None:
        return known
    if name.startswith("Translation-") and "." not in name:
        return _TEXT
    _, dot, suffix = name.rpartition(".")
    return _BY_SUFFIX.get(suffix, "application/octet-stream") if dot else "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Caching:
    """How a response may be cached.

    :ivar cache_control: for 200, 206 and 304.
    :ivar last_modified: ``Last-Modified`` (and what ``If-Modified-Since`` compares to).
    """

    cache_control: str
    last_modified: datetime | None = None


def send_target(
    request: Request,
    store: BlobStore,
    settings: Settings,
    target: Target,
    caching: Caching,
    ensure: Callable[[], object] | None = None,
) -> Response:
    """Answer ``request`` with ``target``'s bytes: 200, 206, 304, 416 or a redirect.

    :param request: the request (method, validators, Range).
    :param store: the blob store.
    :param settings: ``s3_presign``, ``x_accel_redirect``.
    :param target: the blob and its file name.
    :param caching: cache headers.
    :param ensure: called before anything is read from storage (fetch-through); it may
        raise, and then no byte of the file is sent.
    """
    etag = f'"{target.sha256}"'
    headers = {"ETag": etag, "Cache-Control": caching.cache_control}
    if caching.last_modified is not None:
        headers["Last-Modified"] = http_date(caching.last_modified)
    if _not_modified(request, etag, caching.last_modified):
        return Response(status=304, headers=headers)
    if ensure is not None:
        ensure()
    if settings.s3_presign:
        url = store.presigned_url(target.sha256, settings.s3_presign_expiry)
        if url:
            return Response(status=302, headers={"Location": url, "Cache-Control": NO_STORE})
    headers["Content-Type"] = content_type(target.name)
    headers["Accept-Ranges"] = "bytes"
    if settings.x_accel_redirect:
        local = store.local_path(target.sha256)
        if local is not None:
            prefix = settings.x_accel_redirect.rstrip("/")
            headers["X-Accel-Redirect"] = f"{prefix}/{blob_key(target.sha256)}"
            g.rv_bytes = 0 if request.method == "HEAD" else target.size
            return Response(status=200, headers=headers)
    size = target.size
    try:
        span = _range(request, size, etag, caching.last_modified)
    except _Unsatisfiable:
        return _unsatisfiable(size)
    status, start, length = 200, 0, size
    if span is not None:
        status, start, length = 206, span[0], span[1] - span[0] + 1
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
    if request.method == "HEAD":
        resp = Response(status=status, headers=headers)
    else:
        resp = Response(_body(request, store, target, start, length, status), status, headers)
        resp.direct_passthrough = True
    resp.content_length = length
    return resp


class _Unsatisfiable(Exception):
    """A Range that no byte of the file satisfies."""


def _unsatisfiable(size: int) -> Response:
    """416 with the file's size, and a JSON body like every other error."""
    body = {
        "code": "requested_range_not_satisfiable",
        "message": f"No byte of this {size}-byte file is in the requested range.",
    }
    return Response(
        json.dumps(body),
        416,
        {
            "Content-Range": f"bytes */{size}",
            "Cache-Control": NO_STORE,
            "Content-Type": "application/json",
        },
    )


def _body(
    request: Request, store: BlobStore, target: Target, start: int, length: int, status: int
) -> Iterable[bytes]:
    if status == 200:
        local = store.local_path(target.sha256)
        if local is not None:
            # a real file: gunicorn's file_wrapper sends it with sendfile(2)
            return wrap_file(request.environ, open(local, "rb"), 1 << 16)
    return wrap_file(request.environ, store.open(target.sha256, start, length), 1 << 16)


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or etag in (t[2:] if t.startswith("W/") else t for t in tags)
    ims = request.headers.get("If-Modified-Since")
    if ims and last_modified is not None:
        since = _http_date(ims)
        return since is not None and last_modified.replace(microsecond=0) <= since
    return False


def _http_date(value: str) -> datetime | None:
    """An HTTP date, or None when it is not one (a validator we cannot read is ignored)."""
    try:
        return parse_date(value)
    except OverflowError:
        # werkzeug returns None for most bad dates but lets a huge year or offset through
        return None


def _position(digits: str) -> int:
    """A byte position from a Range header: at most :data:`_BEYOND`, however long."""
    digits = digits.lstrip("0") or "0"
    return _BEYOND if len(digits) > _MAX_DIGITS else int(digits)


def _range(
    request: Request, size: int, etag: str, last_modified: datetime | None
) -> tuple[int, int] | None:
    """The single byte range asked for, or ``None`` for the whole file.

    :raises _Unsatisfiable: no byte of the file is in the range (416).
    """
    value = request.headers.get("Range")
    if not value:
        return None
    if_range = request.headers.get("If-Range")
    if if_range:
        if if_range.startswith(('"', "W/")):
            if if_range.strip() != etag:
                return None
        else:
            since = _http_date(if_range)
            if (
                since is None
                or last_modified is None
                or last_modified.replace(microsecond=0) > since
            ):
                return None
    m = _RANGE.fullmatch(value)
    if m is None or m[1] == m[2] == "":
        return None  # several ranges or a syntax we ignore: the whole file is an answer too
    if m[1] == "":
        suffix = _position(m[2])
        if suffix == 0:
            raise _Unsatisfiable
        return max(0, size - suffix), size - 1
    start = _position(m[1])
    end = _position(m[2]) if m[2] else size - 1
    if m[2] and end < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise _Unsatisfiable
    return start, min(end, size - 1)
