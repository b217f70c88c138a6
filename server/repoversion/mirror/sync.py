"""One sync over all archives: plan → fetch → verify → store → commit.

For each suite: fetch InRelease (or Release + Release.gpg), verify it against the archive's
keyring as apt does, refuse a stale or future Release or one for another distribution
(:mod:`.identity`), then fetch the configured index files (by-hash first, falling back
on 404), check each against the Release, store it, and parse the scopes whose indices
changed. Unchanged index files are neither downloaded nor parsed again: an unchanged
upstream costs one small download and one gpgv per suite.
A failure of a required archive fails the sync and commits nothing; blobs already stored
stay for the next sync (content addressed, so they are simply reused).
"""

from __future__ import annotations

import gc
import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from repoversion.archive.plan import IndexPlan, plan_indices
from repoversion.archive.release import check_freshness, parse_release
from repoversion.archive.verify import verify_signed_release
from repoversion.context import Context
from repoversion.errors import BadUpstream, RepoversionError
from repoversion.jobs.exports import queue_for_archive
from repoversion.mirror.identity import allowed_changes, check_identity
from repoversion.mirror.pool import added_debs, download_pool
from repoversion.mirror.scopes import ScopeIndices, ScopeReader, shrunk_scopes
from repoversion.storage.base import BlobRef
from repoversion.timefmt import iso
from repoversion.upstream.archives import ArchiveConf, archive_confs
from repoversion.upstream.http import NotFoundUpstream, Upstream, parse_auth_conf
from repoversion.versions.base import SuiteState, read_base
from repoversion.versions.changes import CommitResult
from repoversion.versions.commit import SyncOutcome, commit_sync
from repoversion.versions.snapshot import ArchiveInfo, Scope, SuiteSnapshot
from repoversion.versions.synclock import sync_lock

log = logging.getLogger(__name__)
MAX_RELEASE = 64 << 20
Progress = Callable[[str, int, int], None]


class Sync:
    """State of one sync run. Use :func:`run_sync`."""

    def __init__(
        self,
        ctx: Context,
        progress: Progress | None = None,
        allow_releaseinfo_change: tuple[str, ...] = (),
    ) -> None:
        self.ctx = ctx
        #: ``ARCHIVE/SUITE`` values whose Release identity change this sync accepts
        self.allow_change = allow_releaseinfo_change
        self.allowed: frozenset[tuple[str, str]] = frozenset()
        self.settings = ctx.settings
        self.store = ctx.store
        self.progress = progress or (lambda _stage, _done, _total: None)
        self.blobs: dict[str, int] = {}
        #: index files being stored (one thread: the disk, not the CPU, is what it waits on)
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="store")
        self.writes: list[Future[Any]] = []
        self.warnings: list[str] = []
        self.base_id: int | None = None
        self.scopes = ScopeReader(ctx, self.progress)
        auth = self.settings.auth_conf
        self.auth = parse_auth_conf(auth.read_text()) if auth.is_file() else []

    def run(self, bump: str | None = None) -> CommitResult:
        try:
            archives, snapshots = self._sync_all()
        finally:
            self.scopes.close()
            self.writer.shutdown(wait=True)
        for write in self.writes:
            write.result()  # blobs first: every index file is stored before the rows
        outcome = SyncOutcome(
            snapshots=snapshots,
            archives={a.name: ArchiveInfo(a.name, a.url, a.mode, a.policy) for a in archives},
            blobs=self.blobs,
            warnings=self.warnings,
            base_id=self.base_id,
        )
        self.progress("commit", 0, 1)
        result = commit_sync(self.ctx.sessions, self.store, self.settings.clock(), outcome, bump)
        self.progress("commit", 1, 1)
        return result

    def _sync_all(self) -> tuple[list[ArchiveConf], list[SuiteSnapshot]]:
        archives = archive_confs(self.ctx.sessions)
        self.allowed = allowed_changes(self.allow_change, archives)
        base = read_base(self.ctx.sessions)
        self.base_id, prev = base.id, base.suites
        self.scopes.base_id = base.id
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
        return archives, snapshots

    def _sync_archive(
        self, arc: ArchiveConf, prev: dict[tuple[str, str], SuiteState]
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
                self.blobs.update(
                    download_pool(
                        self.ctx,
                        up,
                        snaps,
                        self.settings.download_concurrency,
                        lambda done, total: self.progress(f"{arc.name} pool", done, total),
                    )
                )
                if arc.ostree_export:  # stored and verified: the worker exports them
                    queue_for_archive(self.ctx.sessions, arc.name, added_debs(snaps))
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
        self, up: Upstream, arc: ArchiveConf, suite: str, prev: SuiteState | None
    ) -> SuiteSnapshot:
        self.progress(f"{arc.name}/{suite}", 0, 1)
        signed, raw = self._fetch_release(up, arc, suite)
        what = f"{arc.name}: dists/{suite}/{'InRelease' if 'InRelease' in raw else 'Release'}"
        release = parse_release(signed, what)
        check_freshness(release, self.settings.clock(), what)
        self.warnings += check_identity(
            release, what, arc.name, suite, prev, allowed=(arc.name, suite) in self.allowed
        )
        if prev is not None and prev.date is not None and release.date < prev.date:
            self.warnings.append(
                f"{what} is dated {iso(release.date)}, older than the {iso(prev.date)} already "
                "mirrored; it is ignored and the suite keeps its state."
            )
            return SuiteSnapshot(arc.name, suite, carried=True)
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
            snap.files[path] = BlobRef(entry.sha256, entry.size)
            entries[path] = _entry_json(entry)
            if plan.uncompressed is not None:
                entries[plan.uncompressed.path] = _entry_json(plan.uncompressed)
            if plan.kind in ("packages", "sources"):
                scope = (plan.component, "deb" if plan.kind == "packages" else "dsc")
                scope_parts.setdefault(scope, []).append((plan, path, compression))
                if is_new:
                    changed.add(scope)
        snap.all_scopes = set(scope_parts)
        changed |= shrunk_scopes(prev.files if prev else None, scope_parts)
        targets = [
            ScopeIndices(arc.name, suite, scope, scope_parts[scope], release)
            for scope in sorted(changed)
        ]
        snap.scopes.update(self.scopes.read_all(targets, fetched))
        raw_all = raw.get("InRelease") or raw["Release"]
        # upstream's signed Release is kept in every mode: `repoversion export` proves
        # with it that each index file descends from upstream's signature
        kept: dict[str, BlobRef] = {}
        for name, data in raw.items():
            kept[name] = self.store.put_bytes(data)
            self.blobs[kept[name].sha256] = kept[name].size
        if arc.mode == "verbatim":
            snap.files.update(kept)
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
            # name → blob of upstream's InRelease (or Release and Release.gpg), as fetched
            "upstream": {n: {"sha256": r.sha256, "size": r.size} for n, r in kept.items()},
        }
        self.progress(f"{arc.name}/{suite}", 1, 1)
        return snap

    def _index(
        self,
        up: Upstream,
        arc: ArchiveConf,
        suite: str,
        plan: IndexPlan,
        prev: SuiteState | None,
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
            # verified: stored in the background while the index is decoded
            self.writes.append(
                self.writer.submit(self.store.put_bytes, data, expected_sha256=cand.entry.sha256)
            )
            self.blobs[cand.entry.sha256] = len(data)
            fetched[cand.entry.path] = data
            changed = prev is None or prev.files.get(cand.entry.path) != (
                cand.entry.sha256,
                len(data),
            )
            return cand.entry.path, cand.compression, changed
        if plan.required:
            raise BadUpstream(
                f"{arc.name}: dists/{suite}/{plan.path} is listed in the Release "
                f"but none of its variants could be fetched ({', '.join(tried)})."
            )
        return None


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


def _entry_json(entry: Any) -> dict[str, Any]:
    return {"size": entry.size, "sha256": entry.sha256, "md5": entry.md5}


def run_sync(
    ctx: Context,
    bump: str | None = None,
    progress: Progress | None = None,
    *,
    allow_releaseinfo_change: tuple[str, ...] = (),
) -> CommitResult:
    """Sync every configured archive and commit a new repoversion if anything changed.

    The cyclic garbage collector is paused meanwhile: a first sync of Debian's main makes
    a few hundred thousand objects that live until the commit (records, digests, diff
    maps), none of them in reference cycles, and the collector kept re-scanning them
    (docs/benchmarks.md has what that cost).

    :param allow_releaseinfo_change: ``ARCHIVE/SUITE`` values whose changed Release identity
        (Codename, see :mod:`.identity`) this sync accepts.
    :raises Conflict: another sync is running on this database (nothing was done).
    :raises RepoversionError: a required archive failed; nothing was committed.
    """
    ctx.sessions  # noqa: B018 - a missing or outdated schema is refused before the lock
    with sync_lock(ctx.engine), _collector_paused():
        ctx.store.sweep_leftovers()  # of writers killed earlier; live ones are left alone
        return Sync(ctx, progress, allow_releaseinfo_change).run(bump)


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
