"""Checking and repairing the blob store (``repoversion fsck``)."""

from __future__ import annotations

from repoversion.context import Context
from repoversion.errors import InvalidInput
from repoversion.integrity.check import Progress, Report
from repoversion.integrity.check import fsck as check


def fsck(
    ctx: Context, *, repair: bool = False, threads: int = 4, progress: Progress | None = None
) -> Report:
    """Re-hash every stored blob, check every reference of the database against the
    store and, with ``repair``, repair what can be (see :mod:`repoversion.integrity`).

    :param threads: blobs read (and downloaded) at once.
    :param progress: ``progress(stage, done, total)``.
    :raises InvalidInput: ``threads`` is not positive.
    """
    if threads < 1:
        raise InvalidInput("fsck needs at least one thread.")
    return check(ctx, repair=repair, threads=threads, progress=progress)
