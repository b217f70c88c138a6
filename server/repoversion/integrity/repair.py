"""Repair what fsck found missing or corrupt (the corrupt ones are quarantined by then).

For each bad blob, from what needs it (:func:`~.references.needs_of`):

- a pool file or an index file of a kept version is downloaded again from its archive
  through fetch-through's :class:`~repoversion.serving.fetch.Fetcher`: the bytes must have
  the size and SHA-256 the version recorded, or nothing is stored (as a sync verifies);
  an index file is tried under its ``by-hash`` name first, then its plain path;
- a generated blob (a signed Release, ``packages.json``, the server's keys, a lockfile's
  repository, a stanza set) is generated again on its next use: its ``derived`` row is
  dropped (a stanza set's absence only makes the next sync read the digests from the rows);
- a blob nothing kept needs is forgotten: its ``blob`` row is dropped;
- what has no other copy cannot be repaired: a version's ``index.json``, a lockfile stored
  with ``lockfile sources --exact``, and any file upstream no longer has or now serves
  with other bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from repoversion.context import Context
from repoversion.db.models import Archive, Blob, DerivedBlobs, Repoversion
from repoversion.db.session import transaction
from repoversion.errors import NotFound, RepoversionError
from repoversion.integrity.references import CHUNK, Need
from repoversion.integrity.scan import in_parallel
from repoversion.serving.fetch import Fetcher, UpstreamGone
from repoversion.serving.lookup import RELEASE_NAMES, ArchiveIndex, SuiteIndex, in_dists
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef, BlobStore
from repoversion.versions.refs import read_index

#: ``derived`` keys whose blobs are generated from what the database holds; a row under
#: ``lockfile/`` holds a lockfile someone stored, of which there is no other copy
REGENERATED = ("release/", "packages/", "keys/", "lockrepo/", "stanzas/")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a repair did for one blob: ``how`` it was repaired, or why it was not."""

    sha256: str
    repaired: bool
    how: str


@dataclass(frozen=True, slots=True)
class Source:
    """One place upstream has a bad blob."""

    need: Need
    target: Target | None
    url: str
    problem: str = ""


def regenerated(need: Need) -> bool:
    """Whether a ``derived`` need is generated again on its next use."""
    return need.kind == "derived" and need.name.startswith(REGENERATED)


class ArchiveUrls:
    """Where an archive is: its configured URL, or the one a version recorded when the
    archive is no longer configured."""

    def __init__(self, sessions: sessionmaker[Session], store: BlobStore) -> None:
        self.sessions = sessions
        self.store = store
        with transaction(sessions) as s:
            rows = s.execute(select(Archive.name, Archive.url))
            self.configured: dict[str, str] = {name: url for name, url in rows}

    def of(self, archive: str, vid: int | None) -> str:
        """:raises NotFound: neither the configuration nor the version knows it."""
        url = self.configured.get(archive)
        if url is not None:
            return url
        with transaction(self.sessions) as s:
            version = s.get(Repoversion, vid) if vid is not None else None
            if version is not None:
                recorded = read_index(self.store, version).get("archives", {}).get(archive)
                if recorded:
                    return str(recorded["url"])
        raise NotFound(f"archive {archive} is no longer configured and its URL is not known")


def target_of(sha256: str, need: Need, url: str) -> Target:
    """The fetch-through target of a pool or index file ``need``."""
    name = need.path.rsplit("/", 1)[-1]
    size = int(need.size or 0)
    if need.kind == "pool":
        return Target(sha256, size, name, need.archive, (need.path,))
    if need.path in RELEASE_NAMES:
        # upstream's Release of today may still be the one the version kept: its SHA-256
        # decides
        return Target(sha256, size, name, need.archive, (f"dists/{need.suite}/{need.path}",))
    suite = SuiteIndex(need.suite, {need.path: BlobRef(sha256, size)}, {})
    arc = ArchiveIndex(need.archive, url, "", "", {need.suite: suite})
    return in_dists(arc, suite, need.path, lambda: None, fetchable=False)


class Repairer:
    """Repairs bad blobs of one home.

    :param ctx: the home's context.
    :param threads: downloads at once.
    """

    def __init__(self, ctx: Context, threads: int) -> None:
        self.ctx = ctx
        self.threads = threads
        self.fetcher = Fetcher(ctx.settings, lambda: ctx.sessions, ctx.store)

    def close(self) -> None:
        self.fetcher.close()

    def run(
        self, needs: dict[str, list[Need]], progress: Callable[[int, int], None] | None = None
    ) -> list[Verdict]:
        """Repair every blob of ``needs`` (digest → what needs it); one verdict each."""
        urls = ArchiveUrls(self.ctx.sessions, self.ctx.store)
        sources = {sha: self._sources(sha, found, urls) for sha, found in needs.items()}

        def repair_one(sha256: str) -> Verdict:
            return self._one(sha256, needs[sha256], sources[sha256])

        verdicts: list[Verdict] = []
        for _sha, verdict in in_parallel(repair_one, sorted(needs), self.threads):
            verdicts.append(verdict)
            if progress is not None:
                progress(len(verdicts), len(needs))
        self._forget([v.sha256 for v in verdicts if v.repaired])
        return verdicts

    def _sources(self, sha256: str, needs: list[Need], urls: ArchiveUrls) -> list[Source]:
        out: list[Source] = []
        for need in needs:
            if need.kind not in ("pool", "index"):
                continue
            try:
                url = urls.of(need.archive, need.vid)
            except NotFound as exc:
                out.append(Source(need, None, "", exc.message))
                continue
            out.append(Source(need, target_of(sha256, need, url), url))
        return out

    def _one(self, sha256: str, needs: list[Need], sources: list[Source]) -> Verdict:
        if sources:
            return self._fetch(sha256, sources)
        lost = [n for n in needs if n.kind == "index.json" or n.kind == "derived"]
        lost = [n for n in lost if not regenerated(n)]
        if lost:
            return Verdict(sha256, False, f"{lost[0].describe()} has no other copy")
        if any(regenerated(n) for n in needs):
            return Verdict(sha256, True, "generated again on its next use")
        return Verdict(sha256, True, "nothing kept needs it; forgotten")

    def _fetch(self, sha256: str, sources: list[Source]) -> Verdict:
        problems: list[str] = []
        for source in sources:
            if source.target is None:
                problems.append(f"{source.need.describe()}: {source.problem}")
                continue
            try:
                self.fetcher.ensure(source.target, source.url)
            except UpstreamGone:
                problems.append(f"upstream no longer has {source.need.describe()}")
                continue
            except RepoversionError as exc:
                problems.append(exc.message.rstrip("."))
                continue
            return Verdict(sha256, True, f"fetched {source.need.describe()} from upstream")
        return Verdict(sha256, False, "; ".join(dict.fromkeys(problems)))

    def _forget(self, repaired: list[str]) -> None:
        """Drop the rows of repaired blobs that are still absent (generated again later,
        or needed by nothing), unless a writer has stored them meanwhile."""
        store = self.ctx.store
        absent = {sha for sha in repaired if not store.exists(sha)}
        if not absent:
            return
        with transaction(self.ctx.sessions) as s:
            drop = sorted(
                key_hash
                for key_hash, blobs in s.execute(select(DerivedBlobs.key_hash, DerivedBlobs.blobs))
                if any(str(ref[0]) in absent for ref in blobs.values())
            )
            gone = sorted(absent)
            for i in range(0, max(len(drop), len(gone)), CHUNK):
                rows = drop[i : i + CHUNK]
                s.execute(delete(DerivedBlobs).where(DerivedBlobs.key_hash.in_(rows)))
                s.execute(delete(Blob).where(Blob.sha256.in_(gone[i : i + CHUNK])))
