"""Exporting a version as a static tree with its provenance (``repoversion export``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from repoversion.context import Context

Progress = Callable[[str, int, int], None]


def export_tree(
    ctx: Context,
    ref: str,
    directory: Path,
    lockfile: bytes | None = None,
    lockfile_name: str = "the lockfile",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``/v/<ref>/`` into ``directory`` with ``provenance/``, verified.

    :param ref: a version, tag or timestamp.
    :param directory: a new or empty directory.
    :param lockfile: a lockfile's bytes: only its packages go into ``pool/``.
    :param lockfile_name: names the lockfile in messages (its path).
    :param progress: ``progress(stage, done, total)``.
    :returns: the ``export --json`` object.
    :raises NotFound: ``ref`` names nothing; nothing is written.
    :raises InvalidInput: the directory is not new or empty, or the lockfile is malformed
        or names files the version does not hold.
    :raises ExportFailed: a pool file could not be fetched or the tree did not verify;
        nothing is left in ``directory``.
    """
    from repoversion.export.run import export_version

    lock = None
    if lockfile is not None:
        from repoversion.actions.lockfiles import parse_lockfile

        lock = parse_lockfile(lockfile, lockfile_name)
    return export_version(ctx, ref, directory, lock, progress)
