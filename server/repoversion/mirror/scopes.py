"""One scope of a suite (a component's binary or source indices) read against the base
version: which rows close, which records are new, and the name → versions maps the bump
needs. Only stanzas whose digest the base version lacks are parsed (see :mod:`.parse`).
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from repoversion.archive.plan import IndexPlan
from repoversion.archive.release import Release
from repoversion.context import Context
from repoversion.errors import BadUpstream
from repoversion.mirror.parse import Stanzas, iter_stanzas
from repoversion.mirror.scan import Scan, scan_pieces
from repoversion.mirror.scanpool import IndexJob, ScanPool, worth_it
from repoversion.versions.base import ScopeRows
from repoversion.versions.snapshot import Scope, ScopeChange, scope_of

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
        self.pool = ScanPool()

    def close(self) -> None:
        """End the worker processes, if any were started."""
        self.pool.close()

    def read_all(
        self, targets: list[ScopeIndices], fetched: dict[str, bytes]
    ) -> dict[Scope, ScopeChange]:
        """:meth:`read` each scope; large indices are scanned by several processes at
        once (:mod:`.scanpool`), with the same result.

        :raises BadUpstream: as :meth:`read`.
        """
        parts = [(t, i) for t in targets for i in range(len(t.parts))]
        if not worth_it([_size(t, i) for t, i in parts]):
            return {t.scope: self.read(t, fetched) for t in targets}
        bases = {t.scope: self._base_rows(t) for t in targets}
        mine_at = max(parts, key=lambda part: _size(*part))
        here = (mine_at[0].scope, mine_at[1])
        futures: dict[tuple[Scope, int], Future[Scan]] = {}
        try:
            for t, i in parts:
                if (t.scope, i) != here:
                    futures[t.scope, i] = self.pool.submit(self._job(t, i, fetched, bases[t.scope]))
                    label, todo = _label(t, i)
                    self.progress(label, 0, todo)
            mine = Scan()
            t, i = mine_at
            self._scan(t, i, self._stanzas(t, i, fetched), bases[t.scope].keys, mine)
            return {
                t.scope: self._change(t, bases[t.scope], self._gather(t, here, mine, futures))
                for t in targets
            }
        finally:
            for future in futures.values():
                future.cancel()

    def _job(
        self, target: ScopeIndices, i: int, fetched: dict[str, bytes], base: BaseRows
    ) -> IndexJob:
        plan, path, compression = target.parts[i]
        return IndexJob(
            self._index_bytes(target, i, fetched),
            compression,
            target.scope[1],
            target.what(path),
            self.settings.max_index_size,
            plan.uncompressed.size if plan.uncompressed is not None else None,
            frozenset(base.keys),
        )

    def _gather(
        self,
        target: ScopeIndices,
        here: tuple[Scope, int],
        mine: Scan,
        futures: dict[tuple[Scope, int], Future[Scan]],
    ) -> Scan:
        """One scope's scan: its indices' scans merged in index order."""
        scan = Scan()
        for i in range(len(target.parts)):
            if (target.scope, i) == here:
                scan.merge(mine)
                continue
            scan.merge(futures[target.scope, i].result())
            label, todo = _label(target, i)
            self.progress(label, todo, todo)
        return scan

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

    def _index_bytes(self, target: ScopeIndices, i: int, fetched: dict[str, bytes]) -> bytes:
        """An index's verified bytes: downloaded by this sync (taken), or from the store."""
        path = target.parts[i][1]
        data = fetched.pop(path, None)
        if data is None:
            data = self.store.read_bytes(target.release.files[path].sha256)
        return data

    def _stanzas(self, target: ScopeIndices, i: int, fetched: dict[str, bytes]) -> Stanzas:
        plan, path, compression = target.parts[i]
        return iter_stanzas(
            self._index_bytes(target, i, fetched),
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
        """Scan one index here, reporting progress as it goes."""
        path = target.parts[i][1]
        label, todo = _label(target, i)
        self.progress(label, 0, todo)
        report = lambda done: self.progress(label, min(done, todo), todo)  # noqa: E731
        scan_pieces(pieces, target.scope[1], target.what(path), old_keys, scan, report)
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


def _label(target: ScopeIndices, i: int) -> tuple[str, int]:
    """An index's progress label and its size (the bytes progress counts)."""
    plan = target.parts[i][0]
    return f"{target.archive}/{target.suite} {plan.path}", _size(target, i) or 1


def _size(target: ScopeIndices, i: int) -> int:
    plan = target.parts[i][0]
    return plan.uncompressed.size if plan.uncompressed is not None else 0


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
