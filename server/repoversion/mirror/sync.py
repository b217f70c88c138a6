"""One sync over all archives: plan → fetch → verify → store → commit.

For each suite: fetch InRelease (or Release + Release.gpg), verify it against the archive's
keyring as apt does, refuse a stale or future Release, then fetch the configured index
files (by-hash first, falling back on 404), check each against the Release, store it,
and parse the scopes whose indices changed. Unchanged index files are neither downloaded
nor parsed again: an unchanged upstream costs one small download and one gpgv per suite.
A failure of a required archive fails the sync and commits nothing; blobs already stored
stay for the next sync (content addressed, so they are simply reused).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from repoversion.archive.indices import parse_packages, parse_sources
from repoversion.archive.release import IndexPlan, Release, check_freshness, parse_release
from repoversion.archive.verify import verify_signed_release
from repoversion.context import Context
from repoversion.db.models import (
    Archive,
    Blob,
    IndexFile,
    Package,
    Repoversion,
    Suite,
    SuiteRelease,
)
from repoversion.db.session import transaction
from repoversion.errors import BadUpstream, DigestMismatch, RepoversionError
from repoversion.mirror.commit import CommitResult, Committer
from repoversion.mirror.http import NotFoundUpstream, Upstream, parse_auth_conf
from repoversion.mirror.model import (
    ArchiveInfo,
    FileRef,
    PackageRecord,
    Scope,
    ScopeChange,
    SuiteSnapshot,
)
from repoversion.mirror.parse import iter_stanzas, parse_digested, stanza_digest
from repoversion.timefmt import iso, utc

log = logging.getLogger(__name__)
MAX_RELEASE = 64 << 20
Progress = Callable[[str, int, int], None]


@dataclass
class ArchiveConf:
    """A detached copy of an :class:`Archive` row, safe to use outside a session."""

    name: str
    url: str
    suites: list[str]
    components: list[str]
    architectures: list[str]
    keyring: bytes
    policy: str
    mode: str
    required: bool
    ca: str | None

    @classmethod
    def of(cls, row: Archive) -> ArchiveConf:
        return cls(
            row.name,
            row.url,
            list(row.suites),
            list(row.components),
            list(row.architectures),
            row.keyring,
            row.policy,
            row.mode,
            row.required,
            row.ca,
        )


@dataclass
class PrevSuite:
    date: datetime | None
    files: dict[str, tuple[str, int]] = field(default_factory=dict)


class Sync:
    """State of one sync run. Use :func:`run_sync`."""

    def __init__(self, ctx: Context, progress: Progress | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.blobs: dict[str, int] = {}
        self.warnings: list[str] = []
        self.base_id: int | None = None
        auth = self.settings.auth_conf
        self.auth = parse_auth_conf(auth.read_text()) if auth.is_file() else []

    # -- planning -------------------------------------------------------------------------
    def _load(self) -> tuple[list[ArchiveConf], dict[tuple[str, str], PrevSuite]]:
        with transaction(self.ctx.sessions) as s:
            self.base_id = s.scalar(select(func.max(Repoversion.id)))
            archives = [
                ArchiveConf.of(a) for a in s.scalars(select(Archive).order_by(Archive.name))
            ]
            prev: dict[tuple[str, str], PrevSuite] = {}
            for arc, name, date in s.execute(
                select(Suite.archive, Suite.name, SuiteRelease.date)
                .join(SuiteRelease, SuiteRelease.suite_id == Suite.id)
                .where(SuiteRelease.removed.is_(None))
            ):
                prev[(arc, name)] = PrevSuite(utc(date) if date else None)
            for arc, name, path, sha, size in s.execute(
                select(Suite.archive, Suite.name, IndexFile.path, IndexFile.sha256, IndexFile.size)
                .join(Suite, Suite.id == IndexFile.suite_id)
                .where(IndexFile.removed.is_(None))
            ):
                prev.setdefault((arc, name), PrevSuite(None)).files[path] = (sha, size)
        return archives, prev

    def run(self, bump: str | None = None) -> CommitResult:
        archives, prev = self._load()
        snapshots: list[SuiteSnapshot] = []
        for arc in archives:
            try:
                snapshots += self._sync_archive(arc, prev)
            except RepoversionError as exc:
                if arc.required:
                    raise
                self.warnings.append(
                    f"{exc.message.rstrip('.')}; archive {arc.name} is optional "
                    "and keeps its previous state."
                )
                snapshots += [SuiteSnapshot(arc.name, s, carried=True) for s in arc.suites]
        infos = {a.name: ArchiveInfo(a.name, a.url, a.mode, a.policy) for a in archives}
        self.progress("commit", 0, 1)
        with transaction(self.ctx.sessions) as session:
            result = Committer(session, self.store, self.settings.clock()).commit(
                snapshots, infos, bump, self.blobs, self.warnings, base_id=self.base_id
            )
        self.progress("commit", 1, 1)
        return result

    def _sync_archive(
        self, arc: ArchiveConf, prev: dict[tuple[str, str], PrevSuite]
    ) -> list[SuiteSnapshot]:
        up = Upstream(
            arc.url,
            arc.name,
            ca_pem=arc.ca,
            auth=self.auth,
            retries=self.settings.download_retries,
            timeout=self.settings.download_timeout,
            pool=max(4, self.settings.download_concurrency),
        )
        try:
            snaps = [
                self._sync_suite(up, arc, suite, prev.get((arc.name, suite)))
                for suite in arc.suites
            ]
            if arc.policy == "immediate":
                self._download_pool(up, arc, snaps)
            return snaps
        finally:
            up.close()

    # -- one suite ------------------------------------------------------------------------
    def _fetch_release(
        self, up: Upstream, arc: ArchiveConf, suite: str
    ) -> tuple[bytes, dict[str, bytes]]:
        base = f"dists/{suite}"
        raw: dict[str, bytes] = {}
        try:
            raw["InRelease"] = up.get_bytes(f"{base}/InRelease", MAX_RELEASE)
        except NotFoundUpstream:
            try:
                raw["Release"] = up.get_bytes(f"{base}/Release", MAX_RELEASE)
                raw["Release.gpg"] = up.get_bytes(f"{base}/Release.gpg", MAX_RELEASE)
            except NotFoundUpstream:
                raise BadUpstream(
                    f"{arc.name}: {base} has neither InRelease nor a signed Release."
                ) from None
        what = f"{arc.name}: {base}/{'InRelease' if 'InRelease' in raw else 'Release'}"
        verified = verify_signed_release(
            arc.keyring,
            inrelease=raw.get("InRelease"),
            release=raw.get("Release"),
            release_gpg=raw.get("Release.gpg"),
            what=what,
        )
        if arc.mode == "verbatim" and "InRelease" in raw:
            raw.update(self._detached_too(up, arc, base, verified.content))
        return verified.content, raw

    def _detached_too(
        self, up: Upstream, arc: ArchiveConf, base: str, signed: bytes
    ) -> dict[str, bytes]:
        """Verbatim mode serves Release and Release.gpg too, when upstream has them and they
        verify and say what InRelease says; otherwise they are left out (never served
        unverified)."""
        try:
            release = up.get_bytes(f"{base}/Release", MAX_RELEASE)
            gpg = up.get_bytes(f"{base}/Release.gpg", MAX_RELEASE)
            verify_signed_release(
                arc.keyring, release=release, release_gpg=gpg, what=f"{arc.name}: {base}/Release"
            )
        except RepoversionError as exc:
            if not isinstance(exc, NotFoundUpstream):
                self.warnings.append(f"{exc.message.rstrip('.')}; serving InRelease only.")
            return {}
        if release != signed:
            self.warnings.append(
                f"{arc.name}: {base}/Release differs from InRelease; serving InRelease only."
            )
            return {}
        return {"Release": release, "Release.gpg": gpg}

    def _sync_suite(
        self, up: Upstream, arc: ArchiveConf, suite: str, prev: PrevSuite | None
    ) -> SuiteSnapshot:
        self.progress(f"{arc.name}/{suite}", 0, 1)
        signed, raw = self._fetch_release(up, arc, suite)
        what = f"{arc.name}: dists/{suite}/{'InRelease' if 'InRelease' in raw else 'Release'}"
        release = parse_release(signed, what)
        check_freshness(release, self.settings.clock(), what)
        if prev is not None and prev.date is not None and release.date < prev.date:
            self.warnings.append(
                f"{what} is dated {iso(release.date)}, older than the {iso(prev.date)} already "
                "mirrored; it is ignored and the suite keeps its state."
            )
            return SuiteSnapshot(arc.name, suite, carried=True)
        from repoversion.archive.release import plan_indices

        plans = plan_indices(
            release,
            components=arc.components,
            architectures=arc.architectures,
            languages=self.settings.languages,
            what=what,
        )
        snap = SuiteSnapshot(arc.name, suite)
        fetched: dict[str, bytes] = {}
        scope_parts: dict[Scope, list[tuple[IndexPlan, str, str]]] = {}
        changed: set[Scope] = set()
        entries: dict[str, dict[str, Any]] = {}
        for plan in plans:
            got = self._index(up, arc, suite, plan, prev, fetched)
            if got is None:
                continue
            path, compression, is_new = got
            entry = release.files[path]
            snap.files[path] = FileRef(entry.sha256, entry.size)
            entries[path] = _entry_json(entry)
            if plan.uncompressed is not None:
                entries[plan.uncompressed.path] = _entry_json(plan.uncompressed)
            if plan.kind in ("packages", "sources"):
                scope = (plan.component, "deb" if plan.kind == "packages" else "dsc")
                scope_parts.setdefault(scope, []).append((plan, path, compression))
                if is_new:
                    changed.add(scope)
        snap.all_scopes = set(scope_parts)
        changed |= _shrunk_scopes(prev, scope_parts)
        for scope in sorted(changed):
            snap.scopes[scope] = self._parse_scope(
                arc, suite, scope, scope_parts[scope], release, fetched
            )
        raw_all = raw.get("InRelease") or raw["Release"]
        if arc.mode == "verbatim":
            for name, data in raw.items():
                info = self.store.put_bytes(data)
                self.blobs[info.sha256] = info.size
                snap.files[name] = FileRef(info.sha256, info.size)
        snap.release_sha256 = hashlib.sha256(raw_all).hexdigest()
        snap.release_date = release.date
        snap.release = {
            "summary": {
                "sha256": snap.release_sha256,
                "date": iso(release.date),
                "codename": release.codename,
                "suite": release.suite,
                "origin": release.origin,
                "label": release.label,
                "version": release.version,
            },
            "fields": {k: v for k, v in release.fields.items() if k in RELEASE_KEEP},
            "entries": entries,
        }
        self.progress(f"{arc.name}/{suite}", 1, 1)
        return snap

    def _index(
        self,
        up: Upstream,
        arc: ArchiveConf,
        suite: str,
        plan: IndexPlan,
        prev: PrevSuite | None,
        fetched: dict[str, bytes],
    ) -> tuple[str, str, bool] | None:
        """Get one logical index: reuse the stored variant if unchanged, else download.

        :returns: (served path, compression, whether it differs from the previous version).
        """
        if prev is not None:
            for cand in plan.candidates:
                entry = cand.entry
                if prev.files.get(entry.path) == (entry.sha256, entry.size) and self.store.exists(
                    entry.sha256
                ):
                    return entry.path, cand.compression, False
        tried: list[str] = []
        for cand in plan.candidates:
            url_path = f"dists/{suite}/{cand.url_path}"
            try:
                data = up.get_verified(url_path, cand.entry.size, cand.entry.sha256)
            except NotFoundUpstream:
                tried.append(cand.url_path)
                continue
            except DigestMismatch as exc:
                raise DigestMismatch(exc.message, exc.expected, exc.actual) from None
            info = self.store.put_bytes(data, expected_sha256=cand.entry.sha256)
            self.blobs[info.sha256] = info.size
            fetched[cand.entry.path] = data
            changed = prev is None or prev.files.get(cand.entry.path) != (info.sha256, info.size)
            return cand.entry.path, cand.compression, changed
        if plan.required:
            raise BadUpstream(
                f"{arc.name}: dists/{suite}/{plan.path} is listed in the Release "
                f"but none of its variants could be fetched ({', '.join(tried)})."
            )
        return None

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
            conn = s.connection()
            compiled = query.compile(dialect=conn.dialect)
            driver = conn.connection.driver_connection
            assert driver is not None
            cur = driver.cursor()
            params = compiled.params
            if conn.dialect.paramstyle == "qmark":
                args: Any = tuple(params[name] for name in compiled.positiontup or ())
            else:
                args = params
            cur.execute(str(compiled), args)
            for pid, digest in cur.fetchall():
                out.setdefault(digest, []).append(pid)
            cur.close()
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

    def _parse_scope(
        self,
        arc: ArchiveConf,
        suite: str,
        scope: Scope,
        parts: list[tuple[IndexPlan, str, str]],
        release: Release,
        fetched: dict[str, bytes],
    ) -> ScopeChange:
        """Read every index of a scope; parse only stanzas the base version lacks."""
        old_by_digest = self._old_digests(arc.name, suite, scope)
        seen: set[int] = set()
        added: dict[int, Any] = {}  # PackageRecord, or BinaryPackage for .debs
        origin: dict[int, str] = {}
        kind = scope[1]
        parser: Any = parse_packages if kind == "deb" else parse_sources
        for plan, path, compression in parts:
            what = f"{arc.name}: dists/{suite}/{path}"
            label = f"{arc.name}/{suite} {plan.path}"
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
                    added.update((d, _record(item, what)) for d, item in parsed)
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
            self._old_details(arc.name, suite, scope, close, {r.name for r in added.values()})
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
    def _download_pool(self, up: Upstream, arc: ArchiveConf, snaps: list[SuiteSnapshot]) -> None:
        wanted: dict[str, tuple[str, int]] = {}
        for snap in snaps:
            for change in snap.scopes.values():
                for _, r in change.add:
                    wanted[r.sha256] = (r.filename, r.size)
                    for path, sha, size in getattr(r, "files", ()):
                        wanted[sha] = (path, size)
        with transaction(self.ctx.sessions) as s:
            digests = list(wanted)
            for i in range(0, len(digests), 500):
                for sha in s.scalars(
                    select(Blob.sha256).where(Blob.sha256.in_(digests[i : i + 500]))
                ):
                    wanted.pop(sha, None)
        todo = [
            (sha, path, size)
            for sha, (path, size) in sorted(wanted.items(), key=lambda x: x[1])
            if not self.store.exists(sha)
        ]
        total = len(todo)
        done = 0

        def one(item: tuple[str, str, int]) -> tuple[str, int]:
            sha, path, size = item
            info = up.stream_to_store(path, self.store, size, sha)
            return info.sha256, info.size

        with ThreadPoolExecutor(self.settings.download_concurrency) as pool:
            for sha, size in pool.map(one, todo):
                self.blobs[sha] = size
                done += 1
                self.progress(f"{arc.name} pool", done, total)
        for sha, (_, size) in wanted.items():
            if sha not in self.blobs:
                self.blobs[sha] = size


RELEASE_KEEP = (
    "Origin",
    "Label",
    "Suite",
    "Codename",
    "Version",
    "Description",
    "Changelogs",
    "No-Support-for-Architecture-all",
)


_INDEX_PATH = re.compile(r"(?P<component>.+)/(?:binary-[^/]+/Packages|source/Sources)(?:\.\w+)?")


def _shrunk_scopes(
    prev: PrevSuite | None, parts: dict[Scope, list[tuple[IndexPlan, str, str]]]
) -> set[Scope]:
    """Scopes that lost an index since the base version (an architecture no longer
    mirrored): they must be re-read, or that index's packages would stay."""
    out: set[Scope] = set()
    if prev is None:
        return out
    served = {path for items in parts.values() for _, path, _ in items}
    for path in prev.files:
        m = _INDEX_PATH.fullmatch(path)
        if m is None or path in served:
            continue
        scope = (m["component"], "dsc" if path.split("/")[-1].startswith("Sources") else "deb")
        if scope in parts:
            out.add(scope)
    return out


def _record(src: Any, what: str) -> PackageRecord:
    files = tuple((f"{src.directory}/{f.name}", f.sha256, f.size) for f in src.files)
    dsc = next((f for f in files if f[0].endswith(".dsc")), None)
    if dsc is None:
        raise BadUpstream(f"{what}: source package {src.name} lists no .dsc.")
    return PackageRecord(src.name, src.version, "source", dsc[0], dsc[1], dsc[2], files)


def _entry_json(entry: Any) -> dict[str, Any]:
    return {"size": entry.size, "sha256": entry.sha256, "md5": entry.md5}


def run_sync(
    ctx: Context, bump: str | None = None, progress: Progress | None = None
) -> CommitResult:
    """Sync every configured archive and commit a new repoversion if anything changed.

    :raises RepoversionError: a required archive failed; nothing was committed.
    """
    return Sync(ctx, progress).run(bump)
