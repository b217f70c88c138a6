"""What a suite mirrors: its components and architectures, read from the files it serves.

In ``verbatim`` mode a file that upstream's Release lists but the version does not serve
can be fetched on demand. Only files of the components and architectures the version
serves qualify: anonymous requests must not fill the store with every architecture and
component upstream carries. A version's own ``index.json`` is the source of truth (what
it serves under ``dists/<suite>/``), so the answer never changes for a version, even
after the archive's configuration does.

>>> scope = Scope.of(["InRelease", "main/binary-amd64/Packages.xz", "main/source/Sources.xz"])
>>> sorted(scope.components), sorted(scope.architectures)
(['main'], ['amd64', 'source'])
>>> [scope.covers(p) for p in (
...     "main/binary-amd64/Packages.gz", "main/Contents-amd64.gz", "main/i18n/Translation-de",
...     "main/binary-arm64/Packages.xz", "main/Contents-udeb-arm64.gz",
...     "contrib/binary-amd64/Packages", "Contents-amd64.gz")]
[True, True, True, False, False, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: File and directory names that carry an architecture, longest prefix first.
_ARCH_PREFIXES = (
    "binary-",
    "installer-",
    "Contents-udeb-",
    "Contents-",
    "Components-",
    "Commands-",
)


def architecture_of(name: str) -> str | None:
    """The architecture a path segment is for, or ``None`` when it names none.

    :param name: one segment, e.g. ``binary-arm64`` or ``Contents-amd64.gz``.

    >>> architecture_of("binary-arm64"), architecture_of("source"), architecture_of("i18n")
    ('arm64', 'source', None)
    """
    if name == "source":
        return "source"
    stem = name.split(".", 1)[0]
    for prefix in _ARCH_PREFIXES:
        if stem.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return None


@dataclass(frozen=True, slots=True)
class Scope:
    """The components and architectures of one suite of a version.

    :ivar components: first path segments of the served files (``main``…).
    :ivar architectures: architectures they name (``amd64``, ``source``…).
    """

    components: frozenset[str]
    architectures: frozenset[str]

    @classmethod
    def of(cls, served: Iterable[str]) -> Scope:
        """The scope of a suite serving ``served``.

        :param served: paths relative to ``dists/<suite>/``.
        """
        components: set[str] = set()
        architectures: set[str] = set()
        for path in served:
            first, slash, rest = path.partition("/")
            if not slash:
                continue  # InRelease, Release…: no component
            components.add(first)
            architectures.update(a for a in map(architecture_of, rest.split("/")) if a)
        return cls(frozenset(components), frozenset(architectures))

    def covers(self, path: str) -> bool:
        """Whether ``path`` (relative to ``dists/<suite>/``) is of this scope.

        Files that name no architecture (translations, icons) count for their component;
        ``all`` counts when any binary architecture is mirrored.

        :param path: a path upstream's Release lists.
        """
        first, slash, rest = path.partition("/")
        if not slash or first not in self.components:
            return False
        for arch in map(architecture_of, rest.split("/")):
            if arch is not None and not self._mirrors(arch):
                return False
        return True

    def _mirrors(self, arch: str) -> bool:
        if arch == "all":
            return bool(self.architectures - {"source"})
        return arch in self.architectures
