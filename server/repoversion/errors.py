"""Domain errors.

Every error a user can cause or meet is a :class:`RepoversionError` with one clear
sentence as its message. The CLI prints it on stderr and exits non-zero; the web layer
turns it into ``{"code": ..., "message": ...}`` with :attr:`RepoversionError.status`.
"""

from __future__ import annotations


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


class StorageError(RepoversionError):
    code = "storage_error"
    status = 500
