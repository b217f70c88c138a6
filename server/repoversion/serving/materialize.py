"""``materialize``: download every file a version (or a lockfile) needs that is not stored.

Under ``on_demand`` a pool file is downloaded on its first request; a version whose files
upstream has since deleted can then no longer serve them. Materializing stores them now,
through the same fetch-through (one download per blob, verified while streaming).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from repoversion.archive.release import check_relative_path
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput, RepoversionError
from repoversion.serving.fetch import Fetcher
from repoversion.serving.lookup import VersionIndex
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef, BlobStore
from repoversion.versions.contents import pool_file, pool_files
from repoversion.versions.refs import read_index, resolve_ref

#: Above this many files, list the store once instead of asking about each blob.
LIST_THRESHOLD = 5000


@dataclass(frozen=True, slots=True)
class Wanted:
    """A pool file to have: the blob and where its archive is."""

    target: Target
    url: str


@dataclass
class Outcome:
    """What a materialize run did."""

    repoversion: str
    wanted: int = 0
    present: int = 0
    downloaded: int = 0
    bytes: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "repoversion": self.repoversion,
            "files": self.wanted,
            "present": self.present,
            "downloaded": self.downloaded,
            "bytes": self.bytes,
            "failed": self.failed,
        }


def version_files(session: Session, index: VersionIndex) -> list[Wanted]:
    """Every pool file of every binary and source package of the version.

    :param session: a database session.
    :param index: the version.
    """
    return _unique(index, pool_files(session, index.vid))


def lockfile_files(session: Session, index: VersionIndex, lock: Any) -> list[Wanted]:
    """The pool files of a lockfile's packages (SPEC section 6), checked against the version.

    :param session: a database session.
    :param index: the version.
    :param lock: the parsed lockfile.
    :raises InvalidInput: it is not a lockfile, or lists a file the version does not hold.
    """
    packages = lock.get("packages") if isinstance(lock, dict) else None
    if not isinstance(packages, list):
        raise InvalidInput("The lockfile has no list of packages.")
    rows: list[tuple[str, str, str, int]] = []
    for p in packages:
        try:
            archive, path, sha, size = p["archive"], p["filename"], p["sha256"], int(p["size"])
            check_relative_path(path, "the lockfile")
        except (KeyError, TypeError, ValueError, RepoversionError):
            raise InvalidInput(f"The lockfile has a malformed package entry: {p!r:.120}.") from None
        found = pool_file(session, index.vid, archive, path)
        if found is None or (found.sha256, found.size) != (sha, size):
            raise InvalidInput(
                f"{archive}/{path} (sha256 {sha}) is not in repoversion {index.version}."
            )
        rows.append((archive, path, sha, size))
    return _unique(index, rows)


def _unique(index: VersionIndex, rows: Iterable[tuple[str, str, str, int]]) -> list[Wanted]:
    seen: dict[str, Wanted] = {}
    for archive, path, sha, size in rows:
        arc = index.archives.get(archive)
        if sha in seen or arc is None:
            continue
        name = path.rsplit("/", 1)[-1]
        seen[sha] = Wanted(Target(sha, size, name, archive, (path,)), arc.url)
    return sorted(seen.values(), key=lambda w: (w.target.archive or "", w.target.upstream))


def plan(ctx: Context, ref: str, lock: Any | None) -> tuple[VersionIndex, list[Wanted]]:
    """The version ``ref`` names and the files to have for it (all of them, or those of
    the lockfile ``lock``).

    :raises NotFound: ``ref`` names nothing.
    :raises InvalidInput: the lockfile is malformed or names files the version lacks.
    """
    store = ctx.store
    with transaction(ctx.sessions) as session:
        version = resolve_ref(session, ref)
        index = VersionIndex.of(
            version.id,
            BlobRef(version.index_sha256, store.size(version.index_sha256)),
            read_index(store, version),
        )
        if lock is not None:
            return index, lockfile_files(session, index, lock)
        return index, version_files(session, index)


def missing(store: BlobStore, wanted: list[Wanted]) -> list[Wanted]:
    """The wanted files that the store lacks.

    :param store: the blob store.
    :param wanted: the files.
    """
    if len(wanted) > LIST_THRESHOLD:
        stored = set(store.iter_digests())
        return [w for w in wanted if w.target.sha256 not in stored]
    return [w for w in wanted if not store.exists(w.target.sha256)]


def materialize(
    fetcher: Fetcher,
    version: str,
    wanted: list[Wanted],
    *,
    concurrency: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Download what ``wanted`` lists and the store lacks; failures are collected.

    :param fetcher: downloads (one per blob, even against a running server).
    :param version: the version's number, for the outcome.
    :param wanted: the files.
    :param concurrency: parallel downloads.
    :param progress: ``progress(done, total)`` after each file.
    """
    todo = missing(fetcher.store, wanted)
    out = Outcome(version, wanted=len(wanted), present=len(wanted) - len(todo))

    def one(w: Wanted) -> tuple[Wanted, bool, str | None]:
        try:
            return w, fetcher.ensure(w.target, w.url), None
        except RepoversionError as exc:
            return w, False, exc.message

    done = 0
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        for w, fetched, error in pool.map(one, todo):
            done += 1
            if error is not None:
                out.failed.append(
                    {
                        "archive": w.target.archive or "",
                        "path": w.target.upstream[0],
                        "error": error,
                    }
                )
            elif fetched:
                out.downloaded += 1
                out.bytes += w.target.size
            else:
                out.present += 1
            if progress is not None:
                progress(done, len(todo))
    return out
