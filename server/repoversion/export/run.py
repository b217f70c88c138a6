"""The whole export: plan, fetch what is missing, write, check, provenance, complete.

Nothing is written into the destination until the version is resolved, the lockfile
checked against it and every missing pool file fetched from upstream and verified (the
same fetch-through as ``materialize``). Then the tree is written under ``DIR/.partial``,
read back and checked (:mod:`.check`), its provenance written and checked
(:mod:`.provenance`), and only then moved into place. Any failure removes what was
written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from repoversion.context import Context
from repoversion.errors import InvalidInput
from repoversion.export.check import ExportFailed, check_tree
from repoversion.export.plan import ExportPlan, make_plan
from repoversion.export.provenance import write_provenance
from repoversion.export.tree import LAST, Staging, check_destination
from repoversion.serving.fetch import Fetcher
from repoversion.serving.materialize import materialize
from repoversion.serving.service import Serving

Progress = Callable[[str, int, int], None]


def export_version(
    ctx: Context,
    ref: str,
    dest: Path,
    lock: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Export ``/v/<ref>/`` (pool files: only the lockfile's) into ``dest``.

    :param ctx: the process's context.
    :param ref: a version, tag or timestamp.
    :param dest: a new or empty directory.
    :param lock: a parsed lockfile, or ``None`` for every pool file.
    :param progress: ``progress(stage, done, total)``.
    :returns: what was exported (``export --json``).
    :raises NotFound: ``ref`` names nothing (nothing is written).
    :raises InvalidInput: ``dest`` is not new or empty, or the lockfile does not fit.
    :raises ExportFailed: a pool file could not be fetched, or the tree did not verify.
    """
    report = progress or (lambda _stage, _done, _total: None)
    check_destination(dest)
    serving = Serving(ctx)
    try:
        plan = make_plan(serving, ref, lock)
        if any(s.archive == LAST for s in plan.suites):
            raise InvalidInput(f"An archive named {LAST!r} cannot be exported beside provenance/.")
        downloaded = _fetch_missing(ctx, plan, report)
        staging = Staging(dest)
        try:
            index = _write_and_check(ctx, serving, plan, staging, report)
            staging.finish()
        except BaseException:
            staging.discard()
            raise
    finally:
        serving.close()
    return _summary(plan, dest, downloaded, index)


def _fetch_missing(ctx: Context, plan: ExportPlan, report: Progress) -> int:
    """Store every pool file the export needs, from upstream when missing.

    :raises ExportFailed: some could not be fetched (or were not what the version lists).
    """
    fetcher = Fetcher(ctx.settings, lambda: ctx.sessions, ctx.store)
    try:
        outcome = materialize(
            fetcher,
            plan.version,
            plan.wanted,
            concurrency=ctx.settings.download_concurrency,
            progress=lambda done, total: report("fetch", done, total),
        )
    finally:
        fetcher.close()
    if outcome.failed:
        first = outcome.failed[0]
        raise ExportFailed(
            f"{len(outcome.failed)} of {len(plan.wanted)} pool files could not be fetched "
            f"(first: {first['error'].rstrip('.')}); nothing was exported."
        )
    return outcome.downloaded


def _write_and_check(
    ctx: Context, serving: Serving, plan: ExportPlan, staging: Staging, report: Progress
) -> dict[str, Any]:
    store = ctx.store
    items = plan.items
    for done, item in enumerate(items, 1):
        if item.same_as is not None:
            staging.link(item.path, item.same_as)
        else:
            staging.write_blob(store, item.path, item.blob)
        report("write", done, len(items))
    keyring = store.read_bytes(plan.server_keys["repoversion.gpg"].sha256)
    checked = check_tree(
        staging.root,
        plan,
        keyring,
        max_index_size=ctx.settings.max_index_size,
        progress=report,
    )
    return write_provenance(staging, store, plan, checked, ctx.settings.clock())


def _summary(
    plan: ExportPlan, dest: Path, downloaded: int, index: Mapping[str, Any]
) -> dict[str, Any]:
    files: Mapping[str, Mapping[str, Any]] = index["files"]
    return {
        "repoversion": plan.version,
        "ref": plan.ref,
        "directory": str(dest),
        "archives": sorted({s.archive for s in plan.suites}),
        "files": len(files),
        "bytes": sum(f["size"] for f in files.values()),
        "pool_files": len(plan.pool),
        "downloaded": downloaded,
        "lockfile": plan.lockfile,
        "warnings": plan.warnings,
    }


__all__ = ["ExportFailed", "export_version"]
