"""Upstream archive configuration: validated here, used by the sync.

The keyring (and CA file, if any) is copied into the database at ``archive add`` so every
node of a cluster has it. Two rules of trust are kept here, so the CLI and the HTTP API
share them: an archive always brings its own keyring (never the host's whole one), and
its URL carries no credentials, since ``index.json`` publishes it (they go in
``<home>/auth.conf``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from repoversion.archive import keyring as keyrings
from repoversion.db.models import Archive
from repoversion.db.session import transaction
from repoversion.errors import Conflict, InvalidInput, NotFound
from repoversion.timefmt import iso

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
SUITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]*(/[A-Za-z0-9][A-Za-z0-9._+~-]*)*")
COMPONENT_RE = SUITE_RE
ARCH_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
POLICIES = ("on_demand", "immediate")
MODES = ("signed", "verbatim")


@dataclass
class ArchiveSpec:
    """What ``archive add`` (CLI or API) asks for, before validation."""

    name: str
    url: str
    suites: list[str]
    components: list[str]
    architectures: list[str]
    keyring: bytes | None = None
    keyring_path: Path | None = None
    policy: str = "on_demand"
    mode: str = "signed"
    required: bool = True
    ca: str | None = None
    ca_path: Path | None = None
    ostree_export: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _unique(values: list[str], what: str, pattern: re.Pattern[str]) -> list[str]:
    if not values:
        raise InvalidInput(f"At least one {what} is required.")
    out: list[str] = []
    for v in values:
        if not pattern.fullmatch(v) or ".." in v:
            raise InvalidInput(f"{what.capitalize()} {v!r} is not valid.")
        if v not in out:
            out.append(v)
    return out


#: What a credentials refusal names when the caller does not know the home.
AUTH_CONF = "<home>/auth.conf"


def credentials_refusal(url: str, auth_conf: Path | str = AUTH_CONF) -> str | None:
    """The sentence refusing ``url`` when it carries user information, else None.

    Any ``@`` counts: a password holding ``/`` moves it out of the host part, and a path
    needing one writes it ``%40``. The sentence never repeats the user or password.

    >>> credentials_refusal("https://deb.example.org/debian") is None
    True
    >>> refusal = credentials_refusal("https://me:s3cret@deb.example.org/debian", "/h/auth.conf")
    >>> refusal.split("; ")[1]
    'put them in /h/auth.conf as `machine deb.example.org/debian login USER password PASS` instead.'
    """
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return None
    # apt's auth.conf: a machine without a scheme applies to https only.
    machine = rest.rpartition("@")[2].split("?")[0].split("#")[0].rstrip("/")
    if sep and scheme.lower() != "https":
        machine = f"{scheme.lower()}://{machine}"
    return (
        f"Archive URL must not carry credentials: index.json publishes it; put them in "
        f"{auth_conf} as `machine {machine} login USER password PASS` instead."
    )


def validate_url(url: str, auth_conf: Path | str = AUTH_CONF) -> str:
    """``url`` without its trailing slash.

    :param auth_conf: the auth.conf path a credentials refusal names.
    :raises InvalidInput: not http(s), with a query or fragment, or with credentials.
    """
    refusal = credentials_refusal(url, auth_conf)
    if refusal is not None:
        raise InvalidInput(refusal)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"Archive URL {url!r} must be an http:// or https:// URL.")
    if parts.query or parts.fragment:
        raise InvalidInput(f"Archive URL {url!r} must not have a query or fragment.")
    return url.rstrip("/")


def _read_ca(path: Path) -> str:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read CA file {path}: {exc}.") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InvalidInput(f"CA file {path} holds no PEM certificate.")
    return text


def _policy(value: str) -> str:
    if value not in POLICIES:
        raise InvalidInput(f"Policy must be one of {', '.join(POLICIES)}, got {value!r}.")
    return value


def _keyring(value: bytes | Path) -> bytes:
    """A keyring given as bytes (the API) or as a file (the CLI), normalised to binary."""
    if isinstance(value, Path):
        return keyrings.read_keyring(value)
    if not isinstance(value, bytes):
        raise InvalidInput("The keyring must be the bytes of an OpenPGP keyring.")
    return keyrings.normalise(value, "The keyring")


def _required(value: bool) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"Required must be true or false, got {value!r}.")
    return value


def _ostree_export(value: bool) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"ostree_export must be true or false, got {value!r}.")
    return value


def _names(what: str, pattern: re.Pattern[str]) -> Callable[[list[str]], list[str]]:
    def check(values: list[str]) -> list[str]:
        if isinstance(values, str) or not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"The {what}s must be a list of names.")
        return _unique(list(values), what, pattern)

    return check


#: the fields ``archive edit`` may replace, each with the check ``archive add`` makes
EDITABLE: dict[str, Callable[[Any], Any]] = {
    "url": validate_url,
    "suites": _names("suite", SUITE_RE),
    "components": _names("component", COMPONENT_RE),
    "architectures": _names("architecture", ARCH_RE),
    "keyring": _keyring,
    "policy": _policy,
    "required": _required,
    "ostree_export": _ostree_export,
}


def add_archive(session: Session, spec: ArchiveSpec, now: datetime) -> Archive:
    """Validate ``spec`` and record it.

    :raises InvalidInput: any field is invalid (nothing is written).
    :raises Conflict: an archive with that name exists.
    """
    if not NAME_RE.fullmatch(spec.name):
        raise InvalidInput(
            f"Archive name {spec.name!r} must match [a-z0-9][a-z0-9._-]* (it is used in URLs)."
        )
    url = EDITABLE["url"](spec.url)
    suites = EDITABLE["suites"](spec.suites)
    components = EDITABLE["components"](spec.components)
    archs = EDITABLE["architectures"](spec.architectures)
    _policy(spec.policy)
    if spec.mode not in MODES:
        raise InvalidInput(f"Mode must be one of {', '.join(MODES)}, got {spec.mode!r}.")
    given = spec.keyring if spec.keyring is not None else spec.keyring_path
    if given is None:
        raise InvalidInput(
            f"Archive {spec.name!r} needs its own keyring (--keyring FILE, the keys that sign "
            "its Release): the host's whole keyring is never trusted."
        )
    keyring = _keyring(given)
    ca = spec.ca
    if spec.ca_path is not None:
        ca = _read_ca(spec.ca_path)
    if session.scalar(select(Archive.id).where(Archive.name == spec.name)) is not None:
        raise Conflict(f"An archive named {spec.name!r} already exists.")
    archive = Archive(
        name=spec.name,
        url=url,
        suites=suites,
        components=components,
        architectures=archs,
        keyring=keyring,
        policy=spec.policy,
        mode=spec.mode,
        required=_required(spec.required),
        ca=ca,
        created=now,
        ostree_export=_ostree_export(spec.ostree_export),
    )
    session.add(archive)
    session.flush()
    return archive


def edit_archive(session: Session, name: str, changes: Mapping[str, Any]) -> Archive:
    """Replace the fields ``changes`` names, each checked as :func:`add_archive` checks it.

    The next sync numbers what it then serves as always: a new URL serving the same bytes
    makes no new version; a suite left out is dropped (a major bump).

    :param changes: field → new value, fields from :data:`EDITABLE` (``keyring``: the
        keyring's bytes or a :class:`~pathlib.Path` to read them from).
    :raises InvalidInput: an unknown field or a bad value (nothing is written).
    :raises NotFound: no archive with that name.
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            f"Archive field {unknown[0]!r} cannot be edited; these can: {', '.join(EDITABLE)}."
        )
    values = {key: EDITABLE[key](value) for key, value in changes.items()}
    archive = get_archive(session, name)
    for key, value in values.items():
        setattr(archive, key, value)
    session.flush()
    return archive


@dataclass
class ArchiveConf:
    """A detached copy of an archive's configuration, safe to use outside a session."""

    name: str
    url: str
    suites: list[str]
    components: list[str]
    architectures: list[str]
    keyring: bytes
    policy: str
    mode: str
    required: bool
    ca: str | None
    #: every deb stored for it is exported to ostree by the worker
    ostree_export: bool = False

    @classmethod
    def of(cls, row: Archive) -> ArchiveConf:
        return cls(
            row.name,
            row.url,
            list(row.suites),
            list(row.components),
            list(row.architectures),
            row.keyring,
            row.policy,
            row.mode,
            row.required,
            row.ca,
            row.ostree_export,
        )


def archive_confs(sessions: sessionmaker[Session]) -> list[ArchiveConf]:
    """Every configured archive, by name."""
    with transaction(sessions) as s:
        return [ArchiveConf.of(a) for a in list_archives(s)]


def list_archives(session: Session) -> list[Archive]:
    return list(session.scalars(select(Archive).order_by(Archive.name)))


def get_archive(session: Session, name: str) -> Archive:
    """:raises NotFound: no archive with that name."""
    archive = session.scalar(select(Archive).where(Archive.name == name))
    if archive is None:
        raise NotFound(f"No archive named {name!r}.")
    return archive


def remove_archive(session: Session, name: str) -> None:
    """Forget an archive's configuration; the next sync drops it (a major bump).

    Versions already committed keep serving it.
    """
    session.delete(get_archive(session, name))


def archive_json(archive: Archive, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": archive.name,
        "url": archive.url,
        "suites": archive.suites,
        "components": archive.components,
        "architectures": archive.architectures,
        "policy": archive.policy,
        "mode": archive.mode,
        "required": archive.required,
    }
    if detail:
        out["keyring_fingerprints"] = keyrings.fingerprints(archive.keyring)
        out["ca"] = archive.ca is not None
        out["ostree_export"] = archive.ostree_export
        out["created"] = iso(archive.created)
    return out
