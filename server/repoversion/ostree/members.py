"""The packages of a compose, as dpkg sees them: control fields, relations, files.

A :class:`Member` is one lockfile package with its ``control`` paragraph (fields kept as
written, continuation lines and all, so the status file repeats them byte for byte), the
directory holding its checked-out ``dpkg/control`` commit and the tree of its
``dpkg/data`` commit.

>>> fields = parse_control("Package: a\\nVersion: 1.0\\nDescription: x\\n long\\n .\\n more\\n")
>>> fields["Description"]
'x\\n long\\n .\\n more'
>>> parse_relations("b (<< 2.0), c:any, d (= 1:1.0-1)")
[('b', '<<', '2.0'), ('c', '', ''), ('d', '=', '1:1.0-1')]
>>> satisfies("1.5", "<<", "2.0"), satisfies("2.0", ">>", "2.0"), satisfies("9", "", "")
(True, False, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from repoversion.archive.debversion import version_cmp
from repoversion.errors import InvalidInput
from repoversion.ostree.trees import Tree

#: ``name[:arch] [(op version)]`` in a relation field
_RELATION = re.compile(
    r"\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?"
)
_OPS = {
    "<<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    "=": lambda c: c == 0,
    ">=": lambda c: c >= 0,
    ">>": lambda c: c > 0,
    # obsolete spellings dpkg still reads
    "<": lambda c: c <= 0,
    ">": lambda c: c >= 0,
}

_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_ARCH = re.compile(r"[a-z0-9][a-z0-9-]*")

Relation = tuple[str, str, str]


def parse_control(text: str) -> dict[str, str]:
    """The fields of one deb822 paragraph, in order; multi-line values keep their
    continuation lines (with their leading space) after the first line.

    :raises InvalidInput: a line that is neither a field nor a continuation.
    """
    fields: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and name:
            fields[name] += "\n" + line
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise InvalidInput(f"A control file has a malformed line: {line[:60]!r}.")
        name = key
        fields[name] = value.strip()
    return fields


def parse_relations(value: str) -> list[Relation]:
    """``(name, op, version)`` for each comma-separated relation (alternatives flattened,
    architecture qualifiers dropped)."""
    out: list[Relation] = []
    for part in re.split(r"[,|]", value):
        match = _RELATION.match(part)
        if match and part.strip():
            out.append((match.group(1), match.group(2) or "", match.group(3) or ""))
    return out


def satisfies(version: str, op: str, wanted: str) -> bool:
    """Whether ``version`` satisfies ``op wanted`` (an empty ``op`` always does)."""
    if not op:
        return True
    check = _OPS.get(op)
    return bool(check and check(version_cmp(version, wanted)))


@dataclass
class Member:
    """One package of the compose.

    :param index: its place in the lockfile.
    :param sha256: the .deb's sha256 (its refs are ``dpkg/data/<sha256>``…).
    :param control_dir: its control.tar, checked out.
    """

    index: int
    sha256: str
    data_commit: str
    control_dir: Path
    fields: dict[str, str]
    tree: Tree = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fields["Package"]

    @property
    def version(self) -> str:
        return self.fields["Version"]

    @property
    def architecture(self) -> str:
        return self.fields.get("Architecture", "all")

    @property
    def key(self) -> str:
        """The name dpkg files it under: ``name:arch`` for ``Multi-Arch: same``."""
        if self.fields.get("Multi-Arch", "").strip() == "same":
            return f"{self.name}:{self.architecture}"
        return self.name

    @property
    def label(self) -> str:
        """``name (version)`` for messages."""
        return f"{self.name} ({self.version})"

    def relations(self, name: str) -> list[Relation]:
        return parse_relations(self.fields.get(name, "").replace("\n", " "))

    def replaces(self, other: Member) -> bool:
        """Whether this package's Replaces names ``other`` (by name or a virtual package
        it provides) at its version, as dpkg decides who may take over a file."""
        provided = {name: version for name, _, version in other.relations("Provides")}
        for name, op, version in self.relations("Replaces"):
            if name == other.name and satisfies(other.version, op, version):
                return True
            if name in provided and (
                not op or (provided[name] and satisfies(provided[name], op, version))
            ):
                return True
        return False

    def control_file(self, name: str) -> Path | None:
        """``control.tar``'s member ``name`` (``postinst``, ``conffiles``…), if shipped."""
        path = self.control_dir / name
        return path if path.is_file() else None


def read_member(index: int, sha256: str, data_commit: str, control_dir: Path) -> Member:
    """The member whose control.tar was checked out at ``control_dir``.

    :raises InvalidInput: no ``control`` file, or one without Package and Version.
    """
    control = control_dir / "control"
    try:
        fields = parse_control(control.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        raise InvalidInput(f"The deb {sha256} has no control file in its control.tar.") from None
    if not fields.get("Package") or not fields.get("Version"):
        raise InvalidInput(f"The control file of deb {sha256} lacks Package or Version.")
    # both become file names in the dpkg database
    if not _NAME.fullmatch(fields["Package"]) or not _ARCH.fullmatch(
        fields.get("Architecture", "all")
    ):
        raise InvalidInput(f"The deb {sha256} has an invalid package name or architecture.")
    return Member(index, sha256, data_commit, control_dir, fields)
