"""Read this host's apt sources (deb822 ``.sources`` and one-line ``.list``) for ``init --from-system``.

Entries are grouped by URI into archives named after the URI's last path segment
(``…/debian`` → ``debian``, ``…/debian-security`` → ``debian-security``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from debian.deb822 import Deb822

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")


@dataclass
class SystemArchive:
    name: str
    url: str
    suites: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    signed_by: list[str] = field(default_factory=list)


def host_architecture() -> str:
    try:
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "amd64"


def archive_name(url: str) -> str:
    """The last path segment of ``url``, made a valid archive name."""
    segment = url.rstrip("/").rsplit("/", 1)[-1].lower()
    if "://" in url and segment == url.rstrip("/").split("://", 1)[1].lower():
        segment = segment.split(":")[0]
    name = re.sub(r"[^a-z0-9._-]+", "-", segment).strip("-._") or "archive"
    return name if name[0].isalnum() else "a" + name


def _entries_deb822(
    text: str,
) -> list[tuple[list[str], list[str], list[str], list[str], dict[str, str]]]:
    out = []
    for para in Deb822.iter_paragraphs(text.splitlines(keepends=True)):
        if para.get("Enabled", "yes").strip().lower() == "no":
            continue
        opts = {k.lower(): v for k, v in para.items()}
        out.append(
            (
                para.get("Types", "").split(),
                para.get("URIs", "").split(),
                para.get("Suites", "").split(),
                para.get("Components", "").split(),
                opts,
            )
        )
    return out


_LINE = re.compile(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$")


def _entries_list(
    text: str,
) -> list[tuple[list[str], list[str], list[str], list[str], dict[str, str]]]:
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        m = _LINE.match(line)
        if not m:
            continue
        opts: dict[str, str] = {}
        for opt in (m.group(2) or "").split():
            key, _, value = opt.partition("=")
            opts[key.lower()] = value.replace(",", " ")
        out.append(([m.group(1)], [m.group(3)], [m.group(4)], m.group(5).split(), opts))
    return out


def read_system_sources(
    sources_dir: Path = SOURCES_DIR, sources_list: Path = SOURCES_LIST
) -> list[SystemArchive]:
    """Every ``deb``/``deb-src`` archive this host uses, merged by URI."""
    entries = []
    if sources_list.is_file():
        entries += _entries_list(sources_list.read_text())
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if path.suffix == ".sources":
                entries += _entries_deb822(path.read_text())
            elif path.suffix == ".list":
                entries += _entries_list(path.read_text())
    host = host_architecture()
    by_url: dict[str, SystemArchive] = {}
    for types, uris, suites, components, opts in entries:
        if not any(t in ("deb", "deb-src") for t in types):
            continue
        archs = opts.get("architectures", "").split() or [host]
        if "deb-src" in types:
            archs = [*archs, "source"] if "deb" in types else ["source"]
        for uri in uris:
            url = uri.rstrip("/")
            if not url.startswith(("http://", "https://")):
                continue
            arc = by_url.setdefault(url, SystemArchive(name=archive_name(url), url=url))
            for lst, values in (
                (arc.suites, suites),
                (arc.components, components),
                (arc.architectures, archs),
            ):
                lst.extend(v for v in values if v not in lst)
            signed = opts.get("signed-by", "").strip()
            if signed and signed not in arc.signed_by:
                arc.signed_by.append(signed)
    return [a for a in by_url.values() if a.suites and a.components]
