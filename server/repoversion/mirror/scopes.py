"""One scope of a suite (a component's binary or source indices) read against the base
version: which rows close, which records are new, and the name → versions maps the bump
needs. Only stanzas whose digest the base version lacks are parsed (see :mod:`.parse`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from repoversion.archive.indices import parse_packages, parse_sources
from repoversion.archive.plan import IndexPlan
from repoversion.archive.release import Release
from repoversion.context import Context
from repoversion.db.bulk import fetch_rows
from repoversion.db.models import Package, Suite
from repoversion.errors import BadUpstream
from repoversion.mirror.model import PackageRecord, Scope, ScopeChange
from repoversion.mirror.parse import iter_stanzas, parse_digested, stanza_digest

Parts = list[tuple[IndexPlan, str, str]]


class ScopeReader:
    """Reads scopes for one sync.

    :param progress: ``(stage, done, total)`` callback.
    """

    def __init__(self, ctx: Context, progress: Any) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.settings = ctx.settings
        self.progress = progress

    def _scope_filter(self, archive: str, suite: str, scope: Scope) -> Any:
        component, kind = scope
        return (
            select(Package.id)
            .join(Suite, Suite.id == Package.suite_id)
            .where(
                Suite.archive == archive,
                Suite.name == suite,
                Package.component == component,
                Package.kind == kind,
                Package.removed.is_(None),
            )
        )

    def _old_digests(self, archive: str, suite: str, scope: Scope) -> dict[int | None, list[int]]:
        """Open rows of a scope in the base version, by stanza digest (two integers a row).

        Read through the driver: 60,000 ORM rows cost more than the rest of a re-sync.
        """
        out: dict[int | None, list[int]] = {}
        query = self._scope_filter(archive, suite, scope).add_columns(Package.stanza)
        with self.ctx.sessions() as s:
            for pid, digest in fetch_rows(s, query):
                out.setdefault(digest, []).append(pid)
        return out

    def _old_details(
        self, archive: str, suite: str, scope: Scope, ids: list[int], names: set[str]
    ) -> list[tuple[int, str, str, str, str]]:
        """(id, name, version, arch, sha256) of every open row of the scope named like
        ``names`` or like the rows ``ids``: all a diff needs, without reading the rest."""
        base = self._scope_filter(archive, suite, scope)
        names = set(names)
        with self.ctx.sessions() as s:
            for i in range(0, len(ids), 500):
                names.update(
                    s.scalars(select(Package.name).where(Package.id.in_(ids[i : i + 500])))
                )
            wanted = sorted(names)
            rows: list[tuple[int, str, str, str, str]] = []
            for i in range(0, len(wanted), 500):
                query = base.add_columns(
                    Package.name, Package.version, Package.architecture, Package.sha256
                ).where(Package.name.in_(wanted[i : i + 500]))
                rows += [(r[0], r[1], r[2], r[3], r[4]) for r in s.execute(query)]
        return rows

    def read(
        self,
        archive: str,
        suite: str,
        scope: Scope,
        parts: Parts,
        release: Release,
        fetched: dict[str, bytes],
    ) -> ScopeChange:
        """Read every index of a scope; parse only stanzas the base version lacks.

        :param parts: (plan, served path, compression) of each index of the scope.
        :param fetched: bytes downloaded by this sync, by path (taken, not copied).
        :raises BadUpstream: bad compression, a parse error, or one package listed twice
            with different contents.
        """
        old_by_digest = self._old_digests(archive, suite, scope)
        seen: set[int] = set()
        added: dict[int, Any] = {}  # PackageRecord, or BinaryPackage for .debs
        origin: dict[int, str] = {}
        kind = scope[1]
        parser: Any = parse_packages if kind == "deb" else parse_sources
        for plan, path, compression in parts:
            what = f"{archive}: dists/{suite}/{path}"
            label = f"{archive}/{suite} {plan.path}"
            expected = plan.uncompressed.size if plan.uncompressed is not None else None
            todo = expected or 1
            self.progress(label, 0, todo)
            done = 0
            data = fetched.pop(path, None)
            if data is None:
                data = self.store.read_bytes(release.files[path].sha256)
            for stanzas in iter_stanzas(
                data,
                compression,
                max_size=self.settings.max_index_size,
                what=what,
                expected_size=expected,
            ):
                done += sum(map(len, stanzas)) + 2 * len(stanzas)
                self.progress(label, min(done, todo), todo)
                fresh: list[tuple[int, bytes]] = []
                for stanza, digest in zip(stanzas, map(stanza_digest, stanzas), strict=True):
                    if digest not in seen:
                        seen.add(digest)
                        if digest not in old_by_digest:
                            fresh.append((digest, stanza))
                parsed = parse_digested(fresh, parser, what)
                origin.update(dict.fromkeys((d for d, _ in parsed), what))
                if kind == "dsc":
                    added.update((d, source_record(item, what)) for d, item in parsed)
                else:
                    # a BinaryPackage has every field a PackageRecord of a .deb needs
                    added.update(parsed)
            self.progress(label, todo, todo)
            del data
        close = [
            pid for d, ids in old_by_digest.items() if d is None or d not in seen for pid in ids
        ]
        closing = set(close)
        old = (
            self._old_details(archive, suite, scope, close, {r.name for r in added.values()})
            if old_by_digest
            else []
        )
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
        return change

    # -- pool files (policy immediate) ----------------------------------------------------


_INDEX_PATH = re.compile(r"(?P<component>.+)/(?:binary-[^/]+/Packages|source/Sources)(?:\.\w+)?")


def shrunk_scopes(
    prev_files: dict[str, tuple[str, int]] | None, parts: dict[Scope, Parts]
) -> set[Scope]:
    """Scopes that lost an index since the base version (an architecture no longer
    mirrored): they must be re-read, or that index's packages would stay."""
    out: set[Scope] = set()
    if not prev_files:
        return out
    served = {path for items in parts.values() for _, path, _ in items}
    for path in prev_files:
        m = _INDEX_PATH.fullmatch(path)
        if m is None or path in served:
            continue
        scope = (m["component"], "dsc" if path.split("/")[-1].startswith("Sources") else "deb")
        if scope in parts:
            out.add(scope)
    return out


def source_record(src: Any, what: str) -> PackageRecord:
    files = tuple((f"{src.directory}/{f.name}", f.sha256, f.size) for f in src.files)
    dsc = next((f for f in files if f[0].endswith(".dsc")), None)
    if dsc is None:
        raise BadUpstream(f"{what}: source package {src.name} lists no .dsc.")
    return PackageRecord(src.name, src.version, "source", dsc[0], dsc[1], dsc[2], files)
