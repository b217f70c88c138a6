"""Release files: parsing, freshness, and which index files to fetch.

A Release (the signed content of an InRelease, or a Release checked against its
Release.gpg) is one deb822 paragraph: a few scalar fields and the checksum sections
``MD5Sum``, ``SHA1``, ``SHA256`` and ``SHA512``, each a list of ``<hash> <size> <path>``.
:func:`parse_release` merges those sections into one :class:`FileEntry` per path;
SHA256 is required (it is what every other layer verifies against).

:func:`plan_indices` turns a Release and the configured components, architectures and
languages into :class:`IndexPlan` objects: for each logical index (for example
``main/binary-amd64/Packages``), the URLs to try in order and the entry each one must
match.

Compression preference. A sync decompresses every index it fetches, so the order is
by expected total time = transfer + decoding. Decoding bookworm's main/binary-amd64
Packages (50 MB) on the reference machine takes: zst 0.09 s, gz 0.17 s, xz 0.50 s,
bz2 1.06 s; the files are 9.1, 12.1, 8.8, 9.1 and 50 MB (uncompressed). Over loopback
or any link faster than ~80 Mbit/s the 3.3 MB that gz adds over xz cost less than the
0.33 s xz decoding adds, hence ``zst, gz, xz, bz2``; the uncompressed file comes last
because it is the largest and Debian's mirrors list it without serving it (404).

>>> r = parse_release(b"Date: Sat, 10 Aug 2024 09:01:23 UTC\\nSHA256:\\n "
...                   + b"a" * 64 + b" 3 main/binary-amd64/Packages\\n")
>>> r.files["main/binary-amd64/Packages"].size
3
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Literal, NamedTuple

from repoversion.archive.compression import available, kind_from_path
from repoversion.errors import BadUpstream

#: apt refuses a Release dated further than this in the future.
MAX_CLOCK_SKEW = timedelta(seconds=10)

#: Compressions in order of preference (see the module docstring); "" is uncompressed.
DEFAULT_PREFERENCE: tuple[str, ...] = ("zst", "gz", "xz", "bz2", "")

_SUFFIX = {"": "", "xz": ".xz", "gz": ".gz", "bz2": ".bz2", "zst": ".zst"}

# name in the Release -> (FileEntry attribute, hex length)
_HASH_SECTIONS = {
    "md5sum": ("md5", 32),
    "sha1": ("sha1", 40),
    "sha256": ("sha256", 64),
    "sha512": ("sha512", 128),
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
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


class Fetch(NamedTuple):
    """One URL to try for an index.

    :ivar url_path: relative to the suite's directory (``dists/<suite>/``).
    :ivar entry: the Release's entry that the fetched bytes must match.
    :ivar compression: the kind to decompress the bytes with (``""``: none).
    """

    url_path: str
    entry: FileEntry
    compression: str


IndexKind = Literal["packages", "sources", "translation"]


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """How to get one logical index file, such as ``main/binary-amd64/Packages``.

    :ivar path: the uncompressed name, relative to the suite's directory.
    :ivar kind: ``packages``, ``sources`` or ``translation``.
    :ivar component: e.g. ``main``.
    :ivar architecture: e.g. ``amd64``; ``source`` for Sources; ``None`` for Translation.
    :ivar language: the language of a Translation, else ``None``.
    :ivar uncompressed: the Release's entry for the uncompressed file, which the
        decompressed bytes must match, when the Release lists it.
    :ivar candidates: the URLs to try in order, falling back on 404.
    :ivar variants: the listed compressed/uncompressed files, preferred first.
    :ivar required: False for indices apt fetches only when they exist (Translation,
        binary-all).
    """

    path: str
    kind: IndexKind
    component: str
    architecture: str | None
    language: str | None
    uncompressed: FileEntry | None
    candidates: tuple[Fetch, ...]
    variants: tuple[FileEntry, ...]
    required: bool = True


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


def format_date(when: datetime) -> str:
    """Format a datetime as Release files write dates, independently of the locale.

    :param when: an aware datetime.
    :returns: e.g. ``Sat, 10 Aug 2024 09:01:23 UTC``.
    """
    when = when.astimezone(UTC)
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} UTC"
    )


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


def plan_indices(
    release: Release,
    *,
    components: Sequence[str],
    architectures: Sequence[str],
    languages: Sequence[str] = ("en",),
    preference: Sequence[str] = DEFAULT_PREFERENCE,
    what: str = "Release",
) -> list[IndexPlan]:
    """Decide which index files to fetch, and from which URLs, in order.

    For every component: ``binary-<arch>/Packages`` for each architecture (and
    ``binary-all/Packages`` when the Release has ``all`` and does not say
    ``No-Support-for-Architecture-all: Packages``, as apt does), ``source/Sources`` when
    ``source`` is among ``architectures``, and ``i18n/Translation-<lang>`` for each
    language the Release lists. Each logical index gets the listed compressed variants
    in ``preference`` order, each as its by-hash URL first (when the Release says
    ``Acquire-By-Hash: yes``) and then its plain path.

    :param release: the parsed, verified Release.
    :param components: e.g. ``["main"]``.
    :param architectures: e.g. ``["amd64", "source"]``.
    :param languages: Translation languages; ``[]`` for none.
    :param preference: compression kinds, most preferred first.
    :param what: names the file in error messages.
    :raises BadUpstream: the Release lists no variant of a Packages or Sources index
        that the configuration asks for.
    """
    wanted: list[tuple[str, IndexKind, str, str | None, str | None, bool]] = []
    binary = [arch for arch in architectures if arch != "source"]
    no_all = (release.get("No-Support-for-Architecture-all") or "").split()
    implicit_all = (
        bool(binary)
        and "all" not in binary
        and "all" in release.architectures
        and "Packages" not in no_all
    )
    for component in components:
        for arch in binary:
            path = f"{component}/binary-{arch}/Packages"
            wanted.append((path, "packages", component, arch, None, True))
        if implicit_all:
            path = f"{component}/binary-all/Packages"
            wanted.append((path, "packages", component, "all", None, False))
        if "source" in architectures:
            path = f"{component}/source/Sources"
            wanted.append((path, "sources", component, "source", None, True))
        for language in languages:
            path = f"{component}/i18n/Translation-{language}"
            wanted.append((path, "translation", component, None, language, False))

    plans: list[IndexPlan] = []
    for path, kind, comp, index_arch, lang, required in wanted:
        variants = _variants(release, path, preference)
        if not variants:
            if required:
                raise BadUpstream(f"{what} does not list {path} in any known compression")
            continue
        candidates: list[Fetch] = []
        for entry in variants:
            compression = kind_from_path(entry.path)
            if release.acquire_by_hash:
                candidates.append(Fetch(entry.by_hash_path, entry, compression))
            candidates.append(Fetch(entry.path, entry, compression))
        plans.append(
            IndexPlan(
                path=path,
                kind=kind,
                component=comp,
                architecture=index_arch,
                language=lang,
                uncompressed=release.files.get(path),
                candidates=tuple(candidates),
                variants=tuple(variants),
                required=required,
            )
        )
    return plans


def _variants(release: Release, path: str, preference: Iterable[str]) -> list[FileEntry]:
    """The listed variants of ``path`` that this machine can decode, preferred first."""
    out = []
    for kind in preference:
        entry = release.files.get(path + _SUFFIX[kind])
        if entry is not None and available(kind):
            out.append(entry)
    return out


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
