"""One scope of a suite (a component's binary or source indices) read against the base
version: which rows close, which records are new, and the name → versions maps the bump
needs. Only stanzas whose digest the base version lacks are parsed (see :mod:`.parse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from repoversion.archive.indices import parse_packages, parse_sources
from repoversion.archive.plan import IndexPlan
from repoversion.archive.release import Release
from repoversion.context import Context
from repoversion.errors import BadUpstream
from repoversion.mirror.parse import Stanzas, iter_stanzas, parse_digested, stanza_digests
from repoversion.versions.base import ScopeRows
from repoversion.versions.snapshot import PackageRecord, Scope, ScopeChange, scope_of

Parts = list[tuple[IndexPlan, str, str]]


@dataclass(frozen=True)
class ScopeIndices:
    """The indices of one scope of one suite, as the verified Release lists them.

    :ivar parts: (plan, served path, compression) of each index of the scope.
    """

    archive: str
    suite: str
    scope: Scope
    parts: Parts
    release: Release

    def what(self, path: str) -> str:
        return f"{self.archive}: dists/{self.suite}/{path}"


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


@dataclass
class BaseRows:
    """What the base version has of a scope: its stanza set, or (without one) every open
    row's digest with its row ids."""

    known: set[int] | None
    by_digest: dict[int | None, list[int]] | None

    @property
    def keys(self) -> set[int] | dict[int | None, list[int]]:
        return self.known if self.known is not None else self.by_digest or {}


class ScopeReader:
    """Reads scopes for one sync, against the repoversion ``base_id``.

    :param progress: ``(stage, done, total)`` callback.
    """

    def __init__(self, ctx: Context, progress: Any, base_id: int | None = None) -> None:
        self.store = ctx.store
        self.settings = ctx.settings
        self.rows = ScopeRows(ctx.sessions, ctx.store)
        self.progress = progress
        self.base_id = base_id

    def read(self, target: ScopeIndices, fetched: dict[str, bytes]) -> ScopeChange:
        """Read every index of a scope; parse only stanzas the base version lacks.

        :param fetched: bytes downloaded by this sync, by path (taken, not copied).
        :raises BadUpstream: bad compression, a parse error, or one package listed twice
            with different contents.
        """
        # The first index decodes (on every core for a multi-block .xz) while the
        # database answers.
        first = self._stanzas(target, 0, fetched) if target.parts else None
        try:
            base = self._base_rows(target)
        except BaseException:
            if first is not None:
                first.close()
            raise
        scan = Scan()
        for i in range(len(target.parts)):
            pieces = first if i == 0 and first is not None else self._stanzas(target, i, fetched)
            self._scan(target, i, pieces, base.keys, scan)
        del first
        return self._change(target, base, scan)

    def _base_rows(self, target: ScopeIndices) -> BaseRows:
        known = self.rows.stanza_set(target.archive, target.suite, target.scope, self.base_id)
        if known is not None:
            return BaseRows(known, None)
        return BaseRows(None, self.rows.digests(target.archive, target.suite, target.scope))

    def _stanzas(self, target: ScopeIndices, i: int, fetched: dict[str, bytes]) -> Stanzas:
        plan, path, compression = target.parts[i]
        data = fetched.pop(path, None)
        if data is None:
            data = self.store.read_bytes(target.release.files[path].sha256)
        return iter_stanzas(
            data,
            compression,
            max_size=self.settings.max_index_size,
            what=target.what(path),
            expected_size=plan.uncompressed.size if plan.uncompressed is not None else None,
        )

    def _scan(
        self,
        target: ScopeIndices,
        i: int,
        pieces: Stanzas,
        old_keys: set[int] | dict[int | None, list[int]],
        scan: Scan,
    ) -> None:
        """Digest every stanza of one index; parse those neither the base nor an earlier
        piece has."""
        plan, path, _ = target.parts[i]
        what = target.what(path)
        kind = target.scope[1]
        parser: Any = parse_packages if kind == "deb" else parse_sources
        label = f"{target.archive}/{target.suite} {plan.path}"
        todo = (plan.uncompressed.size if plan.uncompressed is not None else None) or 1
        self.progress(label, 0, todo)
        done = 0
        for stanzas in pieces:
            done += sum(map(len, stanzas)) + 2 * len(stanzas)
            self.progress(label, min(done, todo), todo)
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
        self.progress(label, todo, todo)

    def _change(self, target: ScopeIndices, base: BaseRows, scan: Scan) -> ScopeChange:
        """Rows to close, records to add, and the before/after maps of touched names."""
        archive, suite, scope = target.archive, target.suite, target.scope
        if base.by_digest is not None:
            gone = set(base.by_digest) - scan.seen  # with None: rows without a digest
            close = [pid for d in gone for pid in base.by_digest[d]]
            remaining = {d for d in base.by_digest.keys() - gone if d is not None}
            names: set[str] = set()
            ids = close  # rows whose names are not known yet
        else:
            assert base.known is not None
            gone_rows = self.rows.with_digests(archive, suite, scope, base.known - scan.seen)
            close = [r[0] for r in gone_rows]
            remaining = base.known & scan.seen
            names = {r[1] for r in gone_rows}
            ids = []
        names.update(r.name for r in scan.added.values())
        old = self.rows.named(archive, suite, scope, ids, names) if base.keys else []
        change = ScopeChange(close=close)
        _add_new(change, old, scan)
        kind = scope[1]
        closing = set(close)
        for r in old:
            change.before.setdefault((kind, r[1], r[3]), set()).add(r[2])
            if r[0] not in closing:
                change.after.setdefault((kind, r[1], r[3]), set()).add(r[2])
        for _, rec in change.add:
            change.after.setdefault((kind, rec.name, rec.architecture), set()).add(rec.version)
        change.stanzas = remaining.union(d for d, _ in change.add)
        return change


def _add_new(change: ScopeChange, old: list[tuple[Any, ...]], scan: Scan) -> None:
    """Add each scanned record the scope does not keep already; refuse a package listed
    twice with different contents."""
    closing = set(change.close)
    kept = {(r[1], r[2], r[3]): r[4] for r in old if r[0] not in closing}
    for digest, rec in scan.added.items():
        ident = (rec.name, rec.version, rec.architecture)
        other = kept.get(ident)
        if other is not None and other != rec.sha256:
            raise BadUpstream(
                f"{scan.origin[digest]} lists {rec.name} {rec.version} "
                f"({rec.architecture}) twice with different contents."
            )
        if other is None:
            kept[ident] = rec.sha256
            change.add.append((digest, rec))


def shrunk_scopes(
    prev_files: dict[str, tuple[str, int]] | None, parts: dict[Scope, Parts]
) -> set[Scope]:
    """Scopes that lost an index since the base version (an architecture no longer
    mirrored): they must be re-read, or that index's packages would stay."""
    if not prev_files:
        return set()
    served = {path for items in parts.values() for _, path, _ in items}
    lost = {scope_of(path) for path in prev_files if path not in served}
    return {scope for scope in lost if scope in parts}


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
