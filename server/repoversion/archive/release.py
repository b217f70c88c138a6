"""Release files: parsing, dates and freshness.

A Release (the signed content of an InRelease, or a Release checked against its
Release.gpg) is one deb822 paragraph: a few scalar fields and the checksum sections
``MD5Sum``, ``SHA1``, ``SHA256`` and ``SHA512``, each a list of ``<hash> <size> <path>``.
:func:`parse_release` merges those sections into one :class:`FileEntry` per path;
SHA256 is required (it is what every other layer verifies against). Which of the listed
files a sync fetches is :mod:`repoversion.archive.plan`'s business.

>>> r = parse_release(b"Date: Sat, 10 Aug 2024 09:01:23 UTC\\nSHA256:\\n "
...                   + b"a" * 64 + b" 3 main/binary-amd64/Packages\\n")
>>> r.files["main/binary-amd64/Packages"].size
3
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from repoversion.errors import BadUpstream
from repoversion.timefmt import release_date as format_date

#: apt refuses a Release dated further than this in the future.
MAX_CLOCK_SKEW = timedelta(seconds=10)

_HASH_SECTIONS = {
    "md5sum": ("md5", 32),
    "sha1": ("sha1", 40),
    "sha256": ("sha256", 64),
    "sha512": ("sha512", 128),
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), +)?(\d{1,2}) +(" + "|".join(_MONTHS) + r") +(\d{4})"
    r" +(\d{2}):(\d{2}):(\d{2}) +(UTC|GMT|Z|[+-]0000)"
)
_FIELD = re.compile(r"([^\s:][^:\s]*):(.*)")


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file a Release lists, with every checksum the Release gives for it."""

    path: str
    size: int
    sha256: str
    md5: str | None = None
    sha512: str | None = None

    @property
    def by_hash_path(self) -> str:
        """Where ``Acquire-By-Hash`` archives also serve this file."""
        directory, _, _ = self.path.rpartition("/")
        prefix = f"{directory}/" if directory else ""
        return f"{prefix}by-hash/SHA256/{self.sha256}"


@dataclass(frozen=True, slots=True)
class Release:
    """A parsed Release. ``fields`` holds every field as written, hash sections too."""

    origin: str | None
    label: str | None
    suite: str | None
    codename: str | None
    version: str | None
    date: datetime
    valid_until: datetime | None
    architectures: tuple[str, ...]
    components: tuple[str, ...]
    acquire_by_hash: bool
    fields: Mapping[str, str]
    files: Mapping[str, FileEntry]

    def get(self, name: str) -> str | None:
        """A field's value, looked up case-insensitively as deb822 requires.

        :param name: a field name such as ``No-Support-for-Architecture-all``.
        """
        wanted = name.lower()
        for key, value in self.fields.items():
            if key.lower() == wanted:
                return value
        return None


def parse_date(value: str, what: str, field_name: str = "Date") -> datetime:
    """Parse an RFC 2822 date in the forms apt accepts (UTC only).

    :param value: e.g. ``Sat, 10 Aug 2024 09:01:23 UTC``.
    :param what: names the file in error messages.
    :param field_name: names the field in error messages.
    :returns: an aware datetime in UTC.
    :raises BadUpstream: the date is not in that form.
    """
    match = _DATE.fullmatch(value.strip())
    if match is None:
        raise BadUpstream(
            f"{what} has an invalid {field_name} {value.strip()!r}: "
            "expected a UTC date such as 'Sat, 10 Aug 2024 09:01:23 UTC'"
        )
    day, month, year, hour, minute, second, _zone = match.groups()
    try:
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except ValueError:
        raise BadUpstream(f"{what} has an impossible {field_name} {value.strip()!r}") from None


def parse_release(data: bytes | str, what: str = "Release") -> Release:
    """Parse the text of a Release file.

    :param data: the (already verified) Release text.
    :param what: names the file in error messages.
    :raises BadUpstream: the text is not UTF-8, not one deb822 paragraph, lacks a valid
        Date or a SHA256 section, or lists a path, hash or size that is malformed or
        that the checksum sections disagree about.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadUpstream(f"{what} is not UTF-8 (byte {exc.start})") from None
    else:
        text = data
    fields = _parse_paragraph(text, what)
    lowered = {key.lower(): value for key, value in fields.items()}

    files = _parse_files(lowered, what)
    date_value = lowered.get("date")
    if date_value is None:
        raise BadUpstream(f"{what} has no Date field")
    date = parse_date(date_value, what)
    valid_until_value = lowered.get("valid-until")
    valid_until = (
        parse_date(valid_until_value, what, "Valid-Until")
        if valid_until_value is not None
        else None
    )

    def scalar(name: str) -> str | None:
        value = lowered.get(name)
        return value.strip() if value is not None else None

    return Release(
        origin=scalar("origin"),
        label=scalar("label"),
        suite=scalar("suite"),
        codename=scalar("codename"),
        version=scalar("version"),
        date=date,
        valid_until=valid_until,
        architectures=tuple(lowered.get("architectures", "").split()),
        components=tuple(lowered.get("components", "").split()),
        acquire_by_hash=(scalar("acquire-by-hash") or "").lower() == "yes",
        fields=MappingProxyType(fields),
        files=MappingProxyType(files),
    )


def check_freshness(release: Release, now: datetime, what: str = "Release") -> None:
    """Refuse a Release that apt would refuse at ``now``.

    :param release: the parsed Release.
    :param now: the current time, timezone-aware (tests pass a fixed clock).
    :param what: names the file in error messages.
    :raises BadUpstream: Date is more than 10 s after ``now``, or Valid-Until is
        before ``now`` (a replayed old Release: a freeze attack).
    :raises ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("check_freshness needs a timezone-aware 'now'")
    if release.date - now > MAX_CLOCK_SKEW:
        raise BadUpstream(
            f"{what} is dated {format_date(release.date)}, in the future "
            f"(the clock says {format_date(now)})"
        )
    if release.valid_until is not None and release.valid_until < now:
        raise BadUpstream(
            f"{what} expired on {format_date(release.valid_until)} (Valid-Until), so it "
            "may be an old Release replayed to hide updates"
        )


def _parse_paragraph(text: str, what: str) -> dict[str, str]:
    """Split one deb822 paragraph into fields; continuation lines keep their newline."""
    fields: dict[str, str] = {}
    current: str | None = None
    ended = False
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            ended = current is not None
            continue
        if ended:
            raise BadUpstream(f"{what} has more than one paragraph (line {number})")
        if line[0] in " \t":
            if current is None:
                raise BadUpstream(f"{what} starts with a continuation line")
            fields[current] += "\n" + line
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise BadUpstream(f"{what} has a malformed line {number}: {line[:80]!r}")
        name, value = match.group(1), match.group(2).strip()
        if any(key.lower() == name.lower() for key in fields):
            raise BadUpstream(f"{what} has the field {name} twice")
        fields[name] = value
        current = name
    if not fields:
        raise BadUpstream(f"{what} is empty")
    return fields


def _parse_files(lowered: Mapping[str, str], what: str) -> dict[str, FileEntry]:
    """Merge the checksum sections into one FileEntry per path listed under SHA256."""
    if "sha256" not in lowered:
        raise BadUpstream(f"{what} has no SHA256 section, so its files cannot be verified")
    sizes: dict[str, int] = {}
    hashes: dict[str, dict[str, str]] = {}
    for section, (attribute, length) in _HASH_SECTIONS.items():
        body = lowered.get(section)
        if body is None:
            continue
        seen: dict[str, str] = {}
        for line in body.split("\n"):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3:
                raise BadUpstream(f"{what} has a malformed {section} line: {line.strip()!r}")
            digest, size_text, path = parts
            digest = digest.lower()
            if len(digest) != length or not _is_hex(digest):
                raise BadUpstream(f"{what} has an invalid {section} hash for {path}")
            if not size_text.isascii() or not size_text.isdigit():
                raise BadUpstream(f"{what} has an invalid size {size_text!r} for {path}")
            check_relative_path(path, what)
            size = int(size_text)
            if sizes.setdefault(path, size) != size:
                raise BadUpstream(f"{what} lists {path} with two different sizes")
            if seen.setdefault(path, digest) != digest:
                raise BadUpstream(f"{what} lists {path} twice with different {section} hashes")
            hashes.setdefault(path, {})[attribute] = digest
    # Files without a SHA256 cannot be verified to the standard the rest of the product
    # holds: they are left out, so that nothing is ever fetched against a weak hash.
    return {
        path: FileEntry(
            path=path,
            size=sizes[path],
            sha256=found["sha256"],
            md5=found.get("md5"),
            sha512=found.get("sha512"),
        )
        for path, found in hashes.items()
        if "sha256" in found
    }


_HEX = frozenset("0123456789abcdef")
_BAD_PATH_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def _is_hex(value: str) -> bool:
    return _HEX.issuperset(value)


def check_relative_path(path: str, what: str) -> None:
    """Refuse a path that could escape the directory it is relative to.

    :param path: a path from an upstream file, e.g. ``main/binary-amd64/Packages``.
    :param what: names the file in error messages.
    :raises BadUpstream: the path is empty or absolute, has an empty, ``.`` or ``..``
        component, or holds a backslash, NUL, whitespace or control character.
    """
    if not path or path.startswith("/") or _BAD_PATH_CHARS.search(path):
        raise BadUpstream(f"{what} lists an unsafe path {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise BadUpstream(f"{what} lists an unsafe path {path!r}")
