"""Scanning one index file: digest every stanza, parse only those the base version lacks.

Pure work on bytes (no database, no store), so it runs in this process or in another one
(:mod:`.scanpool`) and gives the same :class:`Scan` either way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from repoversion.archive.indices import parse_packages, parse_sources
from repoversion.errors import BadUpstream
from repoversion.mirror.parse import parse_digested, stanza_digests
from repoversion.versions.snapshot import PackageRecord

#: ``(bytes done, bytes in all)`` of one index as it is read
Report = Callable[[int], None]


@dataclass
class Scan:
    """What reading a scope's indices found.

    :ivar seen: every stanza digest listed.
    :ivar added: records of the stanzas the base version lacks, by digest (a
        ``BinaryPackage`` has every field a :class:`PackageRecord` of a .deb needs).
    :ivar origin: the index each added stanza came from (for error messages).
    """

    seen: set[int] = field(default_factory=set)
    added: dict[int, Any] = field(default_factory=dict)
    origin: dict[int, str] = field(default_factory=dict)

    def merge(self, part: Scan) -> None:
        """Add what one index, scanned on its own, found after what this scan holds: a
        stanza an earlier index listed already is not added again (as
        :func:`scan_pieces` on one shared scan would skip it)."""
        for digest, record in part.added.items():
            if digest not in self.seen and digest not in self.added:
                self.added[digest] = record
                self.origin[digest] = part.origin[digest]
        self.seen |= part.seen


def scan_pieces(
    pieces: Iterable[list[bytes]],
    kind: str,
    what: str,
    old_keys: Collection[int | None],
    scan: Scan,
    report: Report | None = None,
) -> None:
    """Digest every stanza of one index; parse those neither the base (``old_keys``) nor
    an earlier index of ``scan`` has.

    :param kind: ``deb`` (a Packages index) or ``dsc`` (Sources).
    :raises BadUpstream: a parse error.
    """
    parser: Any = parse_packages if kind == "deb" else parse_sources
    done = 0
    for stanzas in pieces:
        done += sum(map(len, stanzas)) + 2 * len(stanzas)
        if report is not None:
            report(done)
        digests = stanza_digests(stanzas)
        # Each step iterates the piece's digests or fewer, never the large right
        # operand (a dict's keys() or a several-argument difference() would).
        new = set(digests).difference(old_keys)
        if new:
            new = new - scan.seen  # a stanza listed twice is read once
        scan.seen.update(digests)
        fresh = _in_order(new, digests, stanzas) if new else []
        parsed = parse_digested(fresh, parser, what)
        scan.origin.update(dict.fromkeys((d for d, _ in parsed), what))
        if kind == "dsc":
            scan.added.update((d, source_record(item, what)) for d, item in parsed)
        else:
            scan.added.update(parsed)


def _in_order(
    wanted: set[int], digests: tuple[int, ...], stanzas: list[bytes]
) -> list[tuple[int, bytes]]:
    """(digest, stanza) of the stanzas whose digest is ``wanted``, first occurrence only,
    in index order (so rows are numbered in the order upstream lists them)."""
    # digest → index of its first occurrence, built in C (the reversed walk lets the
    # first occurrence be written last)
    first = dict(zip(reversed(digests), range(len(digests) - 1, -1, -1), strict=True))
    return [(digests[i], stanzas[i]) for i in sorted(map(first.__getitem__, wanted))]


def source_record(src: Any, what: str) -> PackageRecord:
    files = tuple((f"{src.directory}/{f.name}", f.sha256, f.size) for f in src.files)
    dsc = next((f for f in files if f[0].endswith(".dsc")), None)
    if dsc is None:
        raise BadUpstream(f"{what}: source package {src.name} lists no .dsc.")
    return PackageRecord(src.name, src.version, "source", dsc[0], dsc[1], dsc[2], files)
