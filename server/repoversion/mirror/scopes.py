"""One scope of a suite (a component's binary or source indices) read against the base
version: which rows close, which records are new, and the name → versions maps the bump
needs. Only stanzas whose digest the base version lacks are parsed (see :mod:`.parse`).
"""

from __future__ import annotations

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


class ScopeReader:
    """Reads scopes for one sync.

    :param progress: ``(stage, done, total)`` callback.
    """

    def __init__(self, ctx: Context, progress: Any) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.rows = ScopeRows(ctx.sessions, ctx.store)
        self.settings = ctx.settings
        self.progress = progress

    def _stanzas(
        self, archive: str, suite: str, plan: IndexPlan, path: str, compression: str, data: bytes
    ) -> Stanzas:
        return iter_stanzas(
            data,
            compression,
            max_size=self.settings.max_index_size,
            what=f"{archive}: dists/{suite}/{path}",
            expected_size=plan.uncompressed.size if plan.uncompressed is not None else None,
        )

    def read(
        self,
        archive: str,
        suite: str,
        scope: Scope,
        parts: Parts,
        release: Release,
        fetched: dict[str, bytes],
        base_id: int | None = None,
    ) -> ScopeChange:
        """Read every index of a scope; parse only stanzas the base version lacks.

        :param parts: (plan, served path, compression) of each index of the scope.
        :param fetched: bytes downloaded by this sync, by path (taken, not copied).
        :param base_id: the repoversion the change is computed against.
        :raises BadUpstream: bad compression, a parse error, or one package listed twice
            with different contents.
        """
        kind = scope[1]
        parser: Any = parse_packages if kind == "deb" else parse_sources

        def stanzas_of(plan: IndexPlan, path: str, compression: str) -> Stanzas:
            data = fetched.pop(path, None)
            if data is None:
                data = self.store.read_bytes(release.files[path].sha256)
            return self._stanzas(archive, suite, plan, path, compression, data)

        # The first index decodes (on every core for a multi-block .xz) while the
        # database answers.
        first = stanzas_of(*parts[0]) if parts else None
        try:
            known = self.rows.stanza_set(archive, suite, scope, base_id)
            # without the base's stanza set: every open row's digest, with its row ids
            by_digest = self.rows.digests(archive, suite, scope) if known is None else None
        except BaseException:
            if first is not None:
                first.close()
            raise
        old_keys: set[int] | dict[int | None, list[int]] = (
            known if known is not None else by_digest or {}
        )
        seen: set[int] = set()
        added: dict[int, Any] = {}  # PackageRecord, or BinaryPackage for .debs
        origin: dict[int, str] = {}
        for i, (plan, path, compression) in enumerate(parts):
            what = f"{archive}: dists/{suite}/{path}"
            label = f"{archive}/{suite} {plan.path}"
            expected = plan.uncompressed.size if plan.uncompressed is not None else None
            todo = expected or 1
            self.progress(label, 0, todo)
            done = 0
            pieces = first if i == 0 and first is not None else stanzas_of(plan, path, compression)
            for stanzas in pieces:
                done += sum(map(len, stanzas)) + 2 * len(stanzas)
                self.progress(label, min(done, todo), todo)
                digests = stanza_digests(stanzas)
                # Each step iterates the piece's digests or fewer, never the large right
                # operand (a dict's keys() or a several-argument difference() would).
                new = set(digests).difference(old_keys)
                if new:
                    new = new - seen  # a stanza listed twice is read once
                seen.update(digests)
                fresh = _in_order(new, digests, stanzas) if new else []
                parsed = parse_digested(fresh, parser, what)
                origin.update(dict.fromkeys((d for d, _ in parsed), what))
                if kind == "dsc":
                    added.update((d, source_record(item, what)) for d, item in parsed)
                else:
                    # a BinaryPackage has every field a PackageRecord of a .deb needs
                    added.update(parsed)
            self.progress(label, todo, todo)
        del first
        if by_digest is not None:
            gone = set(by_digest) - seen  # with None: rows without a digest are re-read
            close = [pid for d in gone for pid in by_digest[d]]
            remaining = {d for d in by_digest.keys() - gone if d is not None}
            names: set[str] = set()
        else:
            assert known is not None
            gone_rows = self.rows.with_digests(archive, suite, scope, known - seen)
            close = [r[0] for r in gone_rows]
            remaining = known & seen
            names = {r[1] for r in gone_rows}
        closing = set(close)
        names.update(r.name for r in added.values())
        ids = close if by_digest is not None else []  # rows whose names are not known yet
        old = self.rows.named(archive, suite, scope, ids, names) if old_keys else []
        kept = {(r[1], r[2], r[3]): r[4] for r in old if r[0] not in closing}
        change = ScopeChange(close=close)
        for digest, rec in added.items():
            ident = (rec.name, rec.version, rec.architecture)
            other = kept.get(ident)
            if other is not None and other != rec.sha256:
                raise BadUpstream(
                    f"{origin[digest]} lists {rec.name} {rec.version} "
                    f"({rec.architecture}) twice with different contents."
                )
            if other is None:
                kept[ident] = rec.sha256
                change.add.append((digest, rec))
        for r in old:
            change.before.setdefault((kind, r[1], r[3]), set()).add(r[2])
            if r[0] not in closing:
                change.after.setdefault((kind, r[1], r[3]), set()).add(r[2])
        for _, rec in change.add:
            change.after.setdefault((kind, rec.name, rec.architecture), set()).add(rec.version)
        change.stanzas = remaining.union(d for d, _ in change.add)
        return change

    # -- pool files (policy immediate) ----------------------------------------------------


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
