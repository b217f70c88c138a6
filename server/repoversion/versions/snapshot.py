"""What a sync hands to the commit: per suite, the served files, the Release summary and,
for the scopes whose indices changed, the full package list of that scope.

A *scope* is ``(component, kind)`` of one suite, ``kind`` being ``deb`` or ``dsc``: when any
index of a scope changes, the whole scope is re-read, because one package (``Architecture:
all``) may be listed by several indices of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from repoversion.storage.base import BlobRef
from repoversion.versions.changes import Key


class PackageRecord(NamedTuple):
    """One package as the database keeps it (``files``: extra pool files of a source package)."""

    name: str
    version: str
    architecture: str
    filename: str
    sha256: str
    size: int
    files: tuple[tuple[str, str, int], ...] = ()


Scope = tuple[str, str]


@dataclass
class ScopeChange:
    """How one scope changes: rows to close, records to add (each with its stanza digest),
    and the (kind, name, architecture) → versions maps before and after, for the bump."""

    close: list[int] = field(default_factory=list)
    add: list[tuple[int, PackageRecord]] = field(default_factory=list)
    before: dict[Key, set[str]] = field(default_factory=dict)
    after: dict[Key, set[str]] = field(default_factory=dict)
    #: stanza digests of the scope's open rows once the change is applied (see
    #: :mod:`repoversion.versions.stanzasets`); ``None`` when the scope goes away
    stanzas: set[int] | None = None


@dataclass
class SuiteSnapshot:
    """The new state of one (archive, suite).

    ``release`` is JSON: ``summary`` (what index.json shows), ``fields`` (what a generated
    Release repeats) and ``listing`` (index entries a generated Release lists but that are
    not served, such as the uncompressed Packages).

    ``carried`` means: keep exactly what the previous repoversion had (rollback refused,
    optional archive unreachable). Otherwise ``files`` is the complete set of served files
    and ``scopes`` holds the change of every scope whose indices changed (computed against
    the repoversion ``base``); scopes absent from it are unchanged.
    """

    archive: str
    suite: str
    carried: bool = False
    files: dict[str, BlobRef] = field(default_factory=dict)
    release: dict[str, Any] = field(default_factory=dict)
    release_sha256: str = ""
    release_date: datetime | None = None
    scopes: dict[Scope, ScopeChange] = field(default_factory=dict)
    all_scopes: set[Scope] = field(default_factory=set)


@dataclass
class ArchiveInfo:
    """The archive's configuration at sync time, recorded in index.json."""

    name: str
    url: str
    mode: str
    policy: str


_INDEX_PATH = re.compile(r"(?P<component>.+)/(?:binary-[^/]+/Packages|source/Sources)(?:\.\w+)?")


def scope_of(path: str) -> Scope | None:
    """The scope a Packages or Sources index belongs to, by its path in the suite.

    >>> scope_of("main/binary-amd64/Packages.xz"), scope_of("updates/main/source/Sources")
    (('main', 'deb'), ('updates/main', 'dsc'))
    >>> scope_of("main/i18n/Translation-en.xz") is None
    True
    """
    m = _INDEX_PATH.fullmatch(path)
    if m is None:
        return None
    return (m["component"], "dsc" if path.split("/")[-1].startswith("Sources") else "deb")
