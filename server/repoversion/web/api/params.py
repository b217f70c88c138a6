"""What the API accepts: path parameters, query strings and JSON bodies, as pydantic models.

flask-openapi3 validates each request against the models a view's signature names and
documents them in ``/api/v1/openapi.json``. A model's class name ends in ``Path``,
``Query`` or ``Body``, which is how an error sentence names where the bad value was
(:func:`repoversion.web.api.common.invalid`). Only the shape is checked here; the domain
checks the rest (a tag name's form, a suite's characters…) and says why in one sentence.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from repoversion.actions import PAGE_MAX as MAX_LIMIT
from repoversion.upstream.archives import ArchiveSpec


def storable(value: str) -> str:
    """``value`` if a database can hold it: no NUL character, no lone surrogate (JSON's
    ``\\ud800`` escapes allow one), which the drivers would fail on rather than refuse.

    :raises ValueError: it cannot (pydantic names the field).
    """
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


#: text that goes to the database
Text = Annotated[str, AfterValidator(storable)]
Names = list[Text]


class Strict(BaseModel):
    """A request body: unknown fields are refused (a typo must not pass unnoticed)."""

    model_config = ConfigDict(extra="forbid")


# -- path parameters --------------------------------------------------------------------


class RefPath(BaseModel):
    ref: str = Field(description="`X.Y.Z`, a tag, `latest` or a timestamp `YYYYMMDDTHHMMSSZ`")


class DiffPath(BaseModel):
    a: str = Field(description="the ref diffed from")
    b: str = Field(description="the ref diffed to")


class NamePath(BaseModel):
    name: Text


class JobPath(BaseModel):
    # the job table's id is a 32-bit integer on PostgreSQL
    job_id: int = Field(ge=1, le=2**31 - 1)


# -- query strings ----------------------------------------------------------------------


class VersionsQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="items per page")
    cursor: str | None = Field(None, description="`next` of the previous page")


class PackagesQuery(BaseModel):
    name: Text | None = Field(None, description="only packages of this name")
    arch: Text | None = Field(None, description="only this architecture (`source` for sources)")
    archive: Text | None = None
    suite: Text | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class DiffQuery(BaseModel):
    summary: bool = Field(False, description="only `from`, `to` and `counts`")


class HistoryQuery(BaseModel):
    version: Text | None = Field(None, description="only this version of the package")
    arch: Text | None = Field(None, description="only this architecture")


class SyncsQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100)


# -- bodies -----------------------------------------------------------------------------


def decode_keyring(text: str) -> bytes:
    """An armored keyring as it is, a binary one from base64.

    :raises ValueError: neither (pydantic names the field).
    """
    if "-----BEGIN PGP" in text:
        return text.encode()
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be an armored OpenPGP keyring or a base64 binary one") from None
    if not data:
        raise ValueError("must not be empty")
    return data


def parsable_url(value: str) -> str:
    """``value`` if it parses as a URL (the domain then checks its scheme, host, and that
    it carries no credentials).

    :raises ValueError: it does not (an unclosed ``[`` of an IPv6 host, a bad port…).
    """
    try:
        urlsplit(value).port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        raise ValueError("is not a URL") from None
    return value


KEYRING = "the archive's own OpenPGP public keys: armored, or binary in base64"


class ArchiveBody(Strict):
    """An archive to add, as ``repoversion archive add`` takes it."""

    name: Text = Field(description="`[a-z0-9][a-z0-9._-]*`, used in URLs")
    url: Text = Field(description="http(s), without credentials (they go in auth.conf)")
    suites: Names = Field(min_length=1)
    components: Names = Field(min_length=1)
    architectures: Names = Field(min_length=1, description="may include `source`")
    keyring: Text = Field(min_length=1, description=KEYRING)
    policy: Literal["on_demand", "immediate"] = "on_demand"
    mode: Literal["signed", "verbatim"] = "signed"
    required: bool = Field(True, description="false: a failing sync of it only warns")
    ca: Text | None = Field(None, description="a PEM CA bundle for this upstream's https")
    ostree_export: bool = Field(
        False, description="every deb stored for it is also committed to ostree (worker)"
    )

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str) -> str:
        return parsable_url(value)

    @field_validator("keyring")
    @classmethod
    def check_keyring(cls, value: str) -> str:
        decode_keyring(value)
        return value

    @field_validator("ca")
    @classmethod
    def check_ca(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must hold a PEM certificate")
        return value

    def to_spec(self) -> ArchiveSpec:
        """The domain's :class:`ArchiveSpec` for ``add_archive``."""
        return ArchiveSpec(
            name=self.name,
            url=self.url,
            suites=self.suites,
            components=self.components,
            architectures=self.architectures,
            keyring=decode_keyring(self.keyring),
            policy=self.policy,
            mode=self.mode,
            required=self.required,
            ca=self.ca,
            ostree_export=self.ostree_export,
        )


class ArchiveEditBody(Strict):
    """The fields of an archive to replace; absent or null ones stay as they are."""

    url: Text | None = None
    suites: Names | None = Field(None, min_length=1)
    components: Names | None = Field(None, min_length=1)
    architectures: Names | None = Field(None, min_length=1)
    keyring: Text | None = Field(None, min_length=1, description=KEYRING)
    policy: Literal["on_demand", "immediate"] | None = None
    required: bool | None = None
    ostree_export: bool | None = None

    @field_validator("keyring")
    @classmethod
    def check_keyring(cls, value: str | None) -> str | None:
        if value is not None:
            decode_keyring(value)
        return value

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str | None) -> str | None:
        return None if value is None else parsable_url(value)

    @model_validator(mode="after")
    def check_not_empty(self) -> ArchiveEditBody:
        if not self.changes():
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """What ``actions.edit_archive`` takes: the given fields, the keyring as bytes."""
        out = self.model_dump(exclude_none=True)
        if "keyring" in out:
            out["keyring"] = decode_keyring(out["keyring"])
        return out


class SyncBody(Strict):
    """A sync to run; an empty or absent body is a plain sync."""

    bump: Literal["major", "minor", "patch"] | None = Field(
        None, description="raise (never lower) the computed bump"
    )
    allow_releaseinfo_change: Names = Field(
        default_factory=list, description="`ARCHIVE/SUITE` values whose Codename may change"
    )

    @model_validator(mode="before")
    @classmethod
    def absent_is_empty(cls, data: Any) -> Any:
        # no body at all means "sync with the defaults"
        return {} if data is None else data

    def params(self) -> dict[str, Any]:
        """The job's parameters."""
        return self.model_dump(exclude_none=True)


class TagBody(Strict):
    repoversion: Text = Field(min_length=1, description="a ref: `X.Y.Z`, a tag, a timestamp")


class TokenBody(Strict):
    name: Text = Field(description="letters, digits, `.`, `_` or `-`")
    scope: Literal["write", "admin"] = "write"
