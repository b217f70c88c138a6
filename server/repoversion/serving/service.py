"""One object per process that answers "what bytes does this URL mean", with its caches.

A committed version never changes, so what is derived from it is cached for the life of
the process: its parsed ``index.json``, pool lookups ``(version, archive, path) → blob``
(bounded LRU; paths a version lacks go to a separate small LRU, so anonymous requests for
made-up paths never evict the files clients use), upstream Release listings, and the
generated Release files (stored as blobs, see :mod:`.derived`). A warm request for
``/v/X.Y.Z/…`` costs no database query; a literal ``X.Y.Z`` is re-resolved every
:attr:`Serving.ref_ttl` seconds so a deleted version answers 410 soon after; tags,
``latest`` and timestamps are resolved every time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from repoversion import metrics, signingkeys
from repoversion.archive.signing import public_keyring
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import NotFound
from repoversion.serving.cache import LRU
from repoversion.serving.derived import Derived
from repoversion.serving.fetch import Downloads, Fetcher
from repoversion.serving.lookup import (
    RELEASE_NAMES,
    ArchiveIndex,
    Listing,
    SuiteIndex,
    VersionIndex,
    clean_path,
    entries_listing,
    in_dists,
    upstream_listing,
)
from repoversion.serving.release import (
    complete_entries,
    render_release,
    sign_release,
    with_identity,
)
from repoversion.serving.scope import Scope
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef, BlobStore, check_digest
from repoversion.timefmt import iso
from repoversion.versions.contents import packages_of, pool_file, release_fields
from repoversion.versions.numbering import VERSION_RE
from repoversion.versions.refs import Resolved, read_index, resolve

if TYPE_CHECKING:
    from repoversion.db.models import Repoversion

#: Pool paths remembered as missing, per process.
MISSES = 4096


class Serving:
    """Resolves refs and paths to blobs, fetching through what is missing.

    :param ctx: the process's context.
    :param ref_ttl: seconds a resolved ``X.Y.Z`` is trusted without asking the database.
    :param cache_size: how many pool lookups each process remembers.
    """

    def __init__(self, ctx: Context, *, ref_ttl: float = 5.0, cache_size: int = 200_000) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        home = self.settings.home
        self.ref_ttl = ref_ttl
        self.derived = Derived(
            ctx.store, home / "cache" / "derived", lambda: ctx.sessions, self.settings.clock
        )
        self.fetcher = Fetcher(self.settings, lambda: ctx.sessions, ctx.store, metrics.count)
        self.downloads = Downloads(
            self.fetcher,
            workers=self.settings.fetch_concurrency,
            waiters=self.settings.fetch_waiters,
        )
        self._refs: LRU[str, Resolved] = LRU(1024, ttl=ref_ttl)
        self._indexes: LRU[int, VersionIndex] = LRU(64)
        self._pool: LRU[tuple[int, str, str], BlobRef] = LRU(cache_size)
        self._pool_misses: LRU[tuple[int, str, str], bool] = LRU(MISSES)
        self._listings: LRU[tuple[int, str, str], tuple[Listing | None]] = LRU(1024)
        self._keys: LRU[int, list[signingkeys.PublicKey]] = LRU(1, ttl=ref_ttl)

    @property
    def store(self) -> BlobStore:
        """The blob store."""
        return self.ctx.store

    # -- refs and versions ------------------------------------------------------------------

    def resolve(self, ref: str) -> Resolved:
        """Resolve ``ref`` (``X.Y.Z``, tag, ``latest``, timestamp).

        :raises NotFound: nothing matches.
        :raises Gone: the version was deleted.
        """
        immutable = VERSION_RE.fullmatch(ref) is not None
        if immutable:
            hit = self._refs.get(ref)
            if hit is not None:
                return hit
        with transaction(self.ctx.sessions) as s:
            resolved = resolve(s, ref)
        if immutable:
            self._refs.put(ref, resolved)
        return resolved

    def index(self, version: Repoversion) -> VersionIndex:
        """The version's parsed ``index.json``."""
        hit = self._indexes.get(version.id)
        if hit is None:
            ref = BlobRef(version.index_sha256, self.store.size(version.index_sha256))
            hit = VersionIndex.of(version.id, ref, read_index(self.store, version))
            self._indexes.put(version.id, hit)
        return hit

    # -- what a path means -----------------------------------------------------------------

    def index_json(self, resolved: Resolved) -> Target:
        """``/v/<ref>/index.json``: the stored blob."""
        ref = self.index(resolved.version).index
        return Target(ref.sha256, ref.size, "index.json")

    def target(self, resolved: Resolved, archive: str, rest: str) -> Target:
        """What ``/v/<ref>/<archive>/<rest>`` serves.

        :param resolved: the resolved ref.
        :param archive: the archive's name.
        :param rest: ``dists/…`` or ``pool/…``, percent-decoded.
        :raises NotFound: the version has no such file (or ``rest`` leaves its root).
        """
        rest = clean_path(rest)
        idx = self.index(resolved.version)
        arc = idx.archives.get(archive)
        if arc is None:
            raise NotFound(f"Repoversion {idx.version} has no archive {archive!r}.")
        kind, _, path = rest.partition("/")
        if kind == "dists" and path:
            suite, sub = arc.split_suite(path)
            if sub in RELEASE_NAMES and arc.mode != "verbatim":
                return self._signed(resolved, arc, suite, sub)
            return in_dists(
                arc,
                suite,
                sub,
                lambda: self._listing(idx.vid, arc, suite),
                fetchable=arc.mode == "verbatim",
            )
        if kind == "pool" and path:
            ref = self._pool_file(idx.vid, archive, rest)
            if ref is not None:
                name = rest.rsplit("/", 1)[-1]
                return Target(ref.sha256, ref.size, name, archive, (rest,))
        raise NotFound(f"{archive}/{rest} is not in repoversion {idx.version}.")

    def _pool_file(self, vid: int, archive: str, path: str) -> BlobRef | None:
        key = (vid, archive, path)
        hit = self._pool.get(key)
        if hit is not None or self._pool_misses.get(key):
            return hit
        with transaction(self.ctx.sessions) as s:
            ref = pool_file(s, vid, archive, path)
        if ref is None:
            self._pool_misses.put(key, True)
        else:
            self._pool.put(key, ref)
        return ref

    def ensure(
        self, resolved: Resolved, target: Target, gone: Callable[[], bool] | None = None
    ) -> bool:
        """Fetch ``target`` through from upstream if it is not stored (on a downloader
        thread, waiting at most ``fetch_deadline``).

        :param gone: whether the client has closed its connection (then stop waiting).
        :returns: whether it was downloaded now.
        :raises RepoversionError: see :meth:`Downloads.ensure`.
        """
        url = ""
        if target.archive is not None:
            arc = self.index(resolved.version).archives.get(target.archive)
            url = arc.url if arc is not None else ""
        return self.downloads.ensure(target, url, gone)

    def blob(self, sha256: str) -> Target:
        """``/blobs/sha256/<hex>``: any stored blob.

        :raises NotFound: not a digest, or not stored.
        """
        check_digest(sha256)
        if not self.store.exists(sha256):
            raise NotFound(f"No blob {sha256}.")
        return Target(sha256, self.store.size(sha256), sha256)

    def packages_json(self, resolved: Resolved) -> Target:
        """``/v/<ref>/packages.json``: every package of the version, generated once."""
        version = resolved.version

        def make() -> Mapping[str, bytes]:
            with transaction(self.ctx.sessions) as s:
                rows = [p for _, p in packages_of(s, version.id)]
            rows.sort(
                key=lambda p: (
                    p["archive"],
                    p["suite"],
                    p["component"],
                    p["name"],
                    p["architecture"],
                    p["version"],
                )
            )
            text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            return {"packages.json": text.encode() + b"\n"}

        ref = self.derived.get(f"packages/{version.id}/{version.index_sha256}", make)
        return Target(ref["packages.json"].sha256, ref["packages.json"].size, "packages.json")

    def public_key(self, name: str) -> Target:
        """The keyring of the keys served (the current key, and earlier ones until
        ``key retire``), as one stored blob per form.

        :param name: ``repoversion.asc`` (armored) or ``repoversion.gpg`` (binary, for
            ``signed-by=``).
        :raises NotFound: another name.
        """
        if name not in ("repoversion.asc", "repoversion.gpg"):
            raise NotFound("The keys are /keys/repoversion.asc and /keys/repoversion.gpg.")
        keys = self._served_keys()

        def make() -> Mapping[str, bytes]:
            asc, gpg = public_keyring([k.armored for k in keys])
            return {"repoversion.asc": asc, "repoversion.gpg": gpg}

        fingerprints = "+".join(k.fingerprint for k in keys)
        ref = self.derived.get(f"keyring/{fingerprints}", make)[name]
        return Target(ref.sha256, ref.size, name)

    def _served_keys(self) -> list[signingkeys.PublicKey]:
        """The keys served, from the shared database (every node serves the same ones),
        read again after ``ref_ttl``; the current key is recorded on first use."""
        hit = self._keys.get(0)
        if hit is None:
            signer = self.ctx.signer
            fpr, public = signer.fingerprint, signer.public_armored()
            with transaction(self.ctx.sessions) as s:
                signingkeys.record(s, fpr, public, datetime.now(UTC))
                hit = signingkeys.served(s, fpr)
            self._keys.put(0, hit)
        return hit

    # -- signed mode ------------------------------------------------------------------------

    def _signed(
        self, resolved: Resolved, arc: ArchiveIndex, suite: SuiteIndex, name: str
    ) -> Target:
        vid, date = resolved.version.id, resolved.release_date
        public = self.settings.public_url.rstrip("/")
        # Neither this node's public_url nor its key is in the key: the first node to be
        # asked generates and stores the signed files, and every node serves those bytes
        # for ever after (an immutable URL has one set of bytes, SPEC section 3).
        key = f"release/{vid}/{arc.name}/{suite.name}/{iso(date)}"

        def make() -> Mapping[str, bytes]:
            record = self._record(vid, arc, suite)
            served = {p: {"sha256": r.sha256, "size": r.size} for p, r in suite.files.items()}
            entries = complete_entries(_entries(record), served, self.store)
            text = render_release(
                with_identity(record.get("fields", {}), arc.name),
                entries,
                date=date,
                snapshots=f"{public}/v/@SNAPSHOTID@/{arc.name}/",
            )
            return sign_release(self.ctx.signer, text)

        ref = self.derived.get(key, make)[name]
        return Target(ref.sha256, ref.size, name)

    def _record(self, vid: int, arc: ArchiveIndex, suite: SuiteIndex) -> dict[str, Any]:
        with transaction(self.ctx.sessions) as s:
            record = release_fields(s, vid, arc.name, suite.name)
        if record is None:
            raise NotFound(f"{arc.name}/{suite.name} has no Release in this repoversion.")
        return record

    def _listing(self, vid: int, arc: ArchiveIndex, suite: SuiteIndex) -> Listing | None:
        key = (vid, arc.name, suite.name)
        hit = self._listings.get(key)
        if hit is None:
            if arc.mode == "verbatim":
                hit = (_within_scope(upstream_listing(self.store, suite), suite),)
            else:
                hit = (entries_listing(_entries(self._record(vid, arc, suite))),)
            self._listings.put(key, hit)
        return hit[0]

    def close(self) -> None:
        """Stop the downloader threads and release upstream connections."""
        self.downloads.close()
        self.fetcher.close()


def _within_scope(listing: Listing | None, suite: SuiteIndex) -> Listing | None:
    """What may be fetched of ``listing`` (verbatim mode): the files ``suite`` serves, and
    the others of the components and architectures it serves (see :mod:`.scope`)."""
    if listing is None:
        return None
    scope = Scope.of(suite.files)
    files = {p: e for p, e in listing.files.items() if p in suite.files or scope.covers(p)}
    return Listing.of(files, listing.acquire_by_hash)


def _entries(record: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    entries: Mapping[str, Mapping[str, Any]] = record.get("entries") or record.get("listing") or {}
    return entries
