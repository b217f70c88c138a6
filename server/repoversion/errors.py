"""Domain errors.

Every error a user can cause or meet is a :class:`RepoversionError` with one clear
sentence as its message. The CLI prints it on stderr and exits non-zero; the web layer
turns it into ``{"code": ..., "message": ...}`` with :attr:`RepoversionError.status`.

Failures of the machine rather than of the request (a database locked by another writer or
out of reach, a full disk) reach the top as driver or OS exceptions; :func:`from_exception`
gives each of them its one sentence, so no entry point shows a traceback for them.

>>> from_exception(OSError(28, "No space left on device", "/srv/blobs/tmp/blob-1.part")).message
'The disk is full: cannot write /srv/blobs/tmp/blob-1.part.'
>>> from_exception(ValueError("a bug")) is None
True
"""

from __future__ import annotations

import errno


class RepoversionError(Exception):
    """Base class: a message meant for the user, a machine-readable code, an HTTP status."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RepoversionError):
    """A setting is missing or has a bad value."""

    code = "bad_config"
    status = 500


class InvalidInput(RepoversionError):
    """The user asked for something malformed."""

    code = "invalid"
    status = 422


class NotFound(RepoversionError):
    code = "not_found"
    status = 404


class Gone(RepoversionError):
    """The thing existed but was deleted (for example a dropped repoversion)."""

    code = "gone"
    status = 410


class Conflict(RepoversionError):
    code = "conflict"
    status = 409


class Unauthorized(RepoversionError):
    code = "unauthorized"
    status = 401


class Forbidden(RepoversionError):
    code = "forbidden"
    status = 403


class BadUpstream(RepoversionError):
    """An upstream archive answered with something we refuse to mirror."""

    code = "bad_upstream"
    status = 502


class SignatureError(BadUpstream):
    code = "bad_signature"


class DigestMismatch(BadUpstream):
    """Bytes did not hash to what was expected; they are never stored nor served."""

    code = "digest_mismatch"

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class BadDeb(InvalidInput):
    """A .deb that is malformed or hostile (a tar member leaving its root, …); nothing of
    it is committed to ostree."""

    code = "bad_deb"


class OstreeError(RepoversionError):
    """The ``ostree`` command failed on the server's repository."""

    code = "ostree_error"
    status = 500


class StorageError(RepoversionError):
    code = "storage_error"
    status = 500


class DiskFull(StorageError):
    """No space is left where blobs or the database are written."""

    code = "disk_full"
    status = 507


class Unavailable(RepoversionError):
    """Something the server needs is busy or out of reach; the same request may work later.

    :param message: the sentence for the command line (it may name hosts or paths).
    :param public: the sentence for HTTP clients (default: ``message``).
    """

    code = "unavailable"
    status = 503
    #: seconds an HTTP client is asked to wait (``Retry-After``)
    retry_after = 5

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class DatabaseBusy(Unavailable):
    code = "database_busy"


class DatabaseUnreachable(Unavailable):
    code = "database_unreachable"


BUSY = "The database is busy (locked by another writer); try again."
#: SQLSTATE lock_not_available: PostgreSQL's answer when a lock_timeout expires
_PG_LOCKED = "55P03"
_PG_DISK_FULL = "53100"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def from_exception(exc: BaseException) -> RepoversionError | None:
    """The error ``exc`` means for a user, or None when it is a bug (a traceback is right).

    Handles a database that is locked or unreachable (SQLAlchemy's ``OperationalError``)
    and a full disk (``OSError`` ENOSPC, also when a :class:`StorageError` wraps it); any
    other :class:`RepoversionError` is returned as it is.

    :param exc: what reached an entry point.
    """
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    if isinstance(cause, OSError) and cause.errno in _NO_SPACE:
        return DiskFull(f"The disk is full: {_where(exc, cause)}.")
    if isinstance(exc, RepoversionError):
        return exc
    # imported here: errors.py sits below everything and must stay cheap to import
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OperationalError):
        return _database_error(exc.orig if exc.orig is not None else exc)
    return None


def _where(exc: BaseException, cause: OSError) -> str:
    """What could not be written: the wrapping error's sentence without the OS's words."""
    if exc is not cause:
        text = str(exc).replace(f": {cause}", "").rstrip(". ")
        return text[:1].lower() + text[1:]
    return f"cannot write {cause.filename}" if cause.filename else str(cause.strerror)


def _database_error(orig: BaseException) -> RepoversionError:
    # drivers explain over several lines (psycopg adds a hint): the first one says it
    lines = str(orig).strip().splitlines()
    first = lines[0].rstrip(". ") if lines else type(orig).__name__
    sqlstate = getattr(orig, "sqlstate", None)
    # SQLite's words once its busy timeout has passed
    if "database is locked" in first or "database table is locked" in first:
        return DatabaseBusy(BUSY)
    if sqlstate == _PG_LOCKED:
        return DatabaseBusy(BUSY)
    if "database or disk is full" in first or sqlstate == _PG_DISK_FULL:
        return DiskFull("The disk is full: the database cannot grow.")
    return DatabaseUnreachable(
        f"Cannot reach the database: {first}.",
        public="The database cannot be reached; try again later.",
    )
