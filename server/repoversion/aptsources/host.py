"""Read this host's apt sources for ``init --from-system``.

Both formats apt reads are understood: deb822 ``*.sources`` files and one-line
``sources.list`` / ``*.list`` files, from the places apt's own configuration names
(``Dir::Etc::sourcelist`` and ``Dir::Etc::sourceparts``, usually
``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d/``), in apt's order.

What is kept, as apt would use it:

- ``deb`` and ``deb-src`` entries (``Types: deb deb-src``); ``deb-src`` adds the
  ``source`` architecture;
- only ``http://`` and ``https://`` URIs (``file:``, ``cdrom:``, ``mirror+…`` are skipped);
- only suites with components (a flat ``./`` suite has no ``dists/`` to mirror);
- ``Architectures`` / ``[arch=…]`` (also ``arch+=``/``arch-=``, ``Architectures-Add``,
  ``Architectures-Remove``), else this host's architectures (``dpkg``'s native plus
  foreign ones);
- ``Signed-By`` / ``[signed-by=…]``: keyring paths or an inline armored key, passed on
  verbatim; an archive with an entry without it is marked ``unsigned`` (apt checks such
  an entry against its whole ``trusted.gpg*``, which is never used here: see signedby.py);
- disabled entries are dropped: ``Enabled: no`` paragraphs and commented-out lines.

Entries are merged by URI into archives named after the URI's last path segment
(``…/debian`` → ``debian``, ``…/debian-security`` → ``debian-security``). When two URIs
end in the same segment (Ubuntu's ``archive.ubuntu.com/ubuntu`` and
``security.ubuntu.com/ubuntu``), the later one gets its host's first label appended
(``ubuntu-security``), then a number, so every archive keeps a distinct name.

>>> [(e.types, e.suites, e.options) for e in parse_one_line(
...     "deb [arch=amd64,arm64 signed-by=/k.gpg] http://h/debian bookworm main", "x")]
[(('deb',), ('bookworm',), {'architectures': 'amd64 arm64', 'signed-by': '/k.gpg'})]
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from debian.deb822 import Deb822

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")
NAME_MAX = 100
_FALSE = frozenset({"no", "false", "off", "0", "disable", "without"})


@dataclass
class SystemArchive:
    """One upstream archive this host uses, ready to become an ``ArchiveSpec``.

    :ivar signed_by: every ``Signed-By`` value seen for it: keyring paths (space
        separated) or an inline armored key.
    :ivar unsigned: one of its entries has no ``Signed-By``.
    """

    name: str
    url: str
    suites: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    signed_by: list[str] = field(default_factory=list)
    unsigned: bool = False


@dataclass(frozen=True)
class SourceEntry:
    """One enabled sources entry, either format, with options under their deb822 names
    (lower case: ``architectures``, ``architectures-add``, ``signed-by`` …)."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    options: dict[str, str]
    origin: str


# --------------------------------------------------------------------------- parsing


def parse_deb822(text: str, origin: str) -> list[SourceEntry]:
    """Enabled entries of a deb822 ``.sources`` file (comments and blank lines allowed)."""
    out: list[SourceEntry] = []
    for para in Deb822.iter_paragraphs(text.splitlines(keepends=True)):
        fields = {k.lower(): v for k, v in para.items()}
        if fields.get("enabled", "yes").strip().lower() in _FALSE:
            continue
        options = {
            k: v.strip() if k != "signed-by" else v
            for k, v in fields.items()
            if k not in ("types", "uris", "suites", "components", "enabled")
        }
        out.append(
            SourceEntry(
                types=tuple(fields.get("types", "").split()),
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                options=options,
                origin=origin,
            )
        )
    return out


def _words(line: str) -> list[str]:
    """Split like apt's ParseQuoteWord: ``[…]`` and ``"…"`` keep their spaces (so
    ``[ arch=amd64 ]`` and ``cdrom:[Debian 12]/`` are one word); ``"`` is dropped."""
    words: list[str] = []
    current = ""
    closing: str | None = None
    for ch in line:
        if closing is not None:
            if ch == closing:
                closing = None
            if ch != '"':
                current += ch
        elif ch in '["':
            closing = "]" if ch == "[" else '"'
            if ch != '"':
                current += ch
        elif ch.isspace():
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    return words


#: one-line option name → deb822 field name (apt's sourcelist.cc mapping).
_ONE_LINE_NAMES = {
    "arch": "architectures",
    "arch+": "architectures-add",
    "arch-": "architectures-remove",
    "lang": "languages",
    "lang+": "languages-add",
    "lang-": "languages-remove",
    "target": "targets",
    "target+": "targets-add",
    "target-": "targets-remove",
}


def parse_one_line(text: str, origin: str) -> list[SourceEntry]:
    """Enabled entries of a one-line ``sources.list`` file (``#`` starts a comment)."""
    out: list[SourceEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = _words(raw.split("#", 1)[0])
        if len(words) < 3 or words[0] not in ("deb", "deb-src"):
            continue
        options: dict[str, str] = {}
        rest = words[1:]
        if rest[0].startswith("["):
            for opt in rest.pop(0).strip("[]").split():
                key, sep, value = opt.partition("=")
                if sep:
                    # ``arch+=amd64`` splits as key ``arch+``; deb822 says Architectures-Add.
                    key = key.lower()
                    options[_ONE_LINE_NAMES.get(key, key)] = value.replace(",", " ")
        if len(rest) < 2:
            continue
        out.append(
            SourceEntry(
                types=(words[0],),
                uris=(rest[0],),
                suites=(rest[1],),
                components=tuple(rest[2:]),
                options=options,
                origin=f"{origin}:{number}",
            )
        )
    return out


# --------------------------------------------------------------------------- the host


def apt_source_paths() -> tuple[Path, Path]:
    """``(sources.list, sources.list.d)`` as this host's apt configuration names them.

    Asked of ``apt-config`` in a child process, so ``APT_CONFIG`` and ``apt.conf.d`` are
    honoured and libapt's process-wide configuration (which the resolver changes) is not
    involved.
    """
    try:
        proc = subprocess.run(
            [
                "apt-config",
                "shell",
                "LIST",
                "Dir::Etc::sourcelist/f",
                "PARTS",
                "Dir::Etc::sourceparts/d",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return SOURCES_LIST, SOURCES_DIR
    found = dict(
        shlex.split(line)[0].split("=", 1) for line in proc.stdout.splitlines() if "=" in line
    )
    return (
        Path(found.get("LIST") or SOURCES_LIST),
        Path(found.get("PARTS") or SOURCES_DIR),
    )


def host_architectures() -> list[str]:
    """dpkg's native architecture, then its foreign ones (what apt fetches by default)."""

    def dpkg(flag: str) -> list[str]:
        try:
            proc = subprocess.run(["dpkg", flag], capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return []
        return proc.stdout.split()

    return (dpkg("--print-architecture") or ["amd64"]) + dpkg("--print-foreign-architectures")


def host_architecture() -> str:
    """dpkg's native architecture (``amd64`` when dpkg cannot say)."""
    return host_architectures()[0]


def read_entries(sources_list: Path, sources_dir: Path) -> list[SourceEntry]:
    """Every enabled entry of ``sources_list`` then of ``sources_dir/*.{list,sources}``
    in name order, as apt reads them; other file names are ignored, as apt does."""
    entries: list[SourceEntry] = []
    if sources_list.is_file():
        entries += parse_one_line(sources_list.read_text(errors="replace"), str(sources_list))
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if not path.is_file():
                continue
            if path.suffix == ".sources":
                entries += parse_deb822(path.read_text(errors="replace"), str(path))
            elif path.suffix == ".list":
                entries += parse_one_line(path.read_text(errors="replace"), str(path))
    return entries


# --------------------------------------------------------------------------- merging


def archive_name(url: str) -> str:
    """The last path segment of ``url`` (the host for a URL without a path), made a
    valid archive name (``[a-z0-9][a-z0-9._-]*``)."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    segment = path.rsplit("/", 1)[-1] if path else (parts.hostname or "")
    name = re.sub(r"[^a-z0-9._-]+", "-", segment.lower()).strip("-._") or "archive"
    return name[:NAME_MAX]


def _unique_name(url: str, taken: set[str]) -> str:
    base = archive_name(url)
    if base not in taken:
        return base
    label = archive_name("//" + (urlsplit(url).hostname or "").split(".")[0])
    candidate = f"{base}-{label}"[:NAME_MAX]
    number = 2
    while candidate in taken:
        candidate = f"{base}-{number}"[:NAME_MAX]
        number += 1
    return candidate


def _architectures(entry: SourceEntry, default: list[str]) -> list[str]:
    archs = entry.options.get("architectures", "").split() or list(default)
    archs += [a for a in entry.options.get("architectures-add", "").split() if a not in archs]
    removed = set(entry.options.get("architectures-remove", "").split())
    archs = [a for a in archs if a not in removed]
    if "deb-src" in entry.types:
        archs = [*archs, "source"] if "deb" in entry.types else ["source"]
    return archs


def _extend(target: list[str], values: Iterable[str]) -> None:
    target.extend(v for v in values if v not in target)


def merge_entries(
    entries: Iterable[SourceEntry], default_architectures: list[str]
) -> list[SystemArchive]:
    """Merge entries by URI into archives, skipping what cannot be mirrored."""
    by_url: dict[str, SystemArchive] = {}
    for entry in entries:
        if not any(t in ("deb", "deb-src") for t in entry.types) or not entry.components:
            continue
        # An exact-path (flat) suite ends in "/"; "$(ARCH)" is expanded per host by apt.
        suites = [s for s in entry.suites if not s.endswith("/") and "$(" not in s]
        if not suites:
            continue
        archs = _architectures(entry, default_architectures)
        signed = entry.options.get("signed-by", "").strip()
        for uri in entry.uris:
            url = uri.rstrip("/")
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                continue
            arc = by_url.get(url)
            if arc is None:
                name = _unique_name(url, {a.name for a in by_url.values()})
                arc = by_url[url] = SystemArchive(name=name, url=url)
            _extend(arc.suites, suites)
            _extend(arc.components, entry.components)
            _extend(arc.architectures, archs)
            if not signed:
                arc.unsigned = True
            elif signed not in arc.signed_by:
                arc.signed_by.append(signed)
    return list(by_url.values())


def read_system_sources(
    sources_dir: Path | None = None,
    sources_list: Path | None = None,
    architectures: list[str] | None = None,
) -> list[SystemArchive]:
    """Every http(s) ``deb``/``deb-src`` archive this host uses, merged by URI.

    :param sources_dir: the ``sources.list.d`` directory (default: apt's configuration).
    :param sources_list: the one-line ``sources.list`` file (default: apt's configuration).
    :param architectures: used when an entry names none (default: this host's).
    """
    default_list, default_dir = apt_source_paths()
    entries = read_entries(sources_list or default_list, sources_dir or default_dir)
    return merge_entries(entries, architectures or host_architectures())
