"""Pool files for ``policy = immediate``: every file new packages reference, downloaded in
parallel over the archive's keep-alive session and verified before it is stored."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from repoversion.context import Context
from repoversion.upstream.http import Upstream
from repoversion.versions.base import recorded_blobs
from repoversion.versions.snapshot import SuiteSnapshot


def download_pool(
    ctx: Context,
    up: Upstream,
    snaps: list[SuiteSnapshot],
    concurrency: int,
    progress: Callable[[int, int], None],
) -> dict[str, int]:
    """Store every pool file the snapshots add that is not stored yet.

    :returns: sha256 → size of every pool file the snapshots reference (for blob rows).
    :raises DigestMismatch: a file does not match its SHA256 (nothing of it is stored).
    """
    store = ctx.store
    wanted: dict[str, tuple[str, int]] = {}
    for snap in snaps:
        for change in snap.scopes.values():
            for _, r in change.add:
                wanted[r.sha256] = (r.filename, r.size)
                for path, sha, size in getattr(r, "files", ()):
                    wanted[sha] = (path, size)
    recorded = recorded_blobs(ctx.sessions, list(wanted))
    todo = [
        (sha, path, size)
        for sha, (path, size) in sorted(wanted.items(), key=lambda x: x[1])
        if sha not in recorded and not store.exists(sha)
    ]

    def one(item: tuple[str, str, int]) -> None:
        sha, path, size = item
        up.stream_to_store(path, store, size, sha)

    with ThreadPoolExecutor(concurrency) as pool:
        for done, _ in enumerate(pool.map(one, todo), start=1):
            progress(done, len(todo))
    return {sha: size for sha, (_, size) in wanted.items() if sha not in recorded}


def added_debs(snaps: list[SuiteSnapshot]) -> set[str]:
    """The sha256 of every binary package file the snapshots add (for ostree exports)."""
    return {
        r.sha256
        for snap in snaps
        for scope, change in snap.scopes.items()
        if scope[1] == "deb"
        for _, r in change.add
        if r.filename.endswith((".deb", ".udeb"))
    }
