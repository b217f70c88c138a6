"""``ostree compose``: a root from a lockfile, committed to an ostree ref (SPEC section 7).

The debs the lockfile needs are exported first (those not exported yet), then composed
(:mod:`repoversion.ostree.compose`), then the compose is recorded and the signed summary
updated. The ref moves only when everything before it worked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput

Progress = Callable[[str, int, int], None]


def _utc(when: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were written in UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def compose_lockfile(
    ctx: Context,
    lock: Mapping[str, Any],
    ref: str,
    *,
    configure: bool = False,
    deployable: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Export what ``lock`` needs, compose it, commit it to ``ref``.

    :param lock: a checked lockfile (:func:`repoversion.actions.parse_lockfile`).
    :returns: ``ref``, ``commit``, ``repoversion``, ``packages`` (how many), and what was
        done (``configured``, ``deployable``).
    :raises InvalidInput: a bad ref, or a lockfile without packages.
    :raises NotFound: the lockfile's repoversion is not in this home.
    :raises Conflict: it is another server's, or packages clash over files.
    :raises RepoversionError: exporting, a maintainer script or ostree failed.
    """
    from repoversion.ostree import compose as composing
    from repoversion.ostree import composes
    from repoversion.ostree.export import DebRef, export_debs
    from repoversion.ostree.repo import open_repo, signer_key
    from repoversion.resolve.lockfile import canonical

    composing.check_ref(ref)
    options = composing.Options(configure=configure, deployable=deployable)
    composing.check_options(options)
    if not lock["packages"]:
        raise InvalidInput("The lockfile has no packages to compose.")
    with transaction(ctx.sessions) as s:
        version = composes.lock_version(s, lock)
        version_id, created = version.id, version.created
    shas = list(dict.fromkeys(p["sha256"] for p in lock["packages"]))
    sizes = {p["sha256"]: p["size"] for p in lock["packages"]}
    exported = {
        e.sha256: e for e in export_debs(ctx, [DebRef(s, sizes[s]) for s in shas], progress)
    }
    debs = [
        composing.Deb(sha, exported[sha].data_commit, exported[sha].control_commit) for sha in shas
    ]
    repo = open_repo(ctx)
    commit = composing.compose(
        repo,
        signer_key(ctx.signer)(),
        lock,
        canonical(lock).decode().rstrip("\n"),
        debs,
        ref,
        timestamp=int(_utc(created).timestamp()),
        options=options,
    )
    with transaction(ctx.sessions) as s:
        composes.record_compose(s, ref, commit, version_id, shas, ctx.settings.clock())
    repo.update_summary()
    return {
        "ref": ref,
        "commit": commit,
        "repoversion": lock["repoversion"],
        "packages": len(debs),
        "configured": configure,
        "deployable": deployable,
    }
