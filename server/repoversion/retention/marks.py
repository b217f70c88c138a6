"""The mark: every blob something still needs.

A blob is live when

- a kept version needs it (:func:`repoversion.versions.retention.live_blobs`: its
  ``index.json``, pool files, index files, upstream's Release and what a ``verbatim``
  Release lists);
- a ``derived`` row names it: signed Releases, ``packages.json``, stanza sets, the served
  keys, stored lockfiles and their repositories. The rows of a dropped version
  (:data:`PER_VERSION`) are deleted instead, and mark nothing;
- a queued or running job names it in its parameters (an ostree export of debs);
- an ostree compose merged it (a deb of ``ostree_compose.debs``).

A running sync needs no mark: the collection holds the sync lock while it marks and
sweeps (:func:`repoversion.versions.synclock.gc_lock`), so no sync is between storing its
blobs and committing their rows meanwhile.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from repoversion.db.models import DerivedBlobs, Job, OstreeCompose
from repoversion.storage.base import BlobStore
from repoversion.versions import retention, stanzasets

#: ``derived`` keys made for one version, ``<prefix><version id>/…``: its signed Releases
#: and ``packages.json`` (``serving/service.py``), its stanza sets (``versions/stanzasets.py``)
PER_VERSION = ("release/", "packages/", stanzasets.PREFIX)
#: job states whose parameters keep blobs
ACTIVE = ("queued", "running")
_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])")
#: rows deleted at once
CHUNK = 500


def version_of(key: str) -> int | None:
    """The version a ``derived`` key was made for, or None (a key shared by versions).

    >>> version_of("release/12/debian/bookworm/2026-01-01T00:00:00Z"), version_of("keyring/AB")
    (12, None)
    """
    for prefix in PER_VERSION:
        if key.startswith(prefix):
            head = key[len(prefix) :].split("/", 1)[0]
            return int(head) if head.isdigit() else None
    return None


@dataclass
class Marks:
    """The outcome of the mark.

    :ivar live: every live blob.
    :ivar debs: the debs whose ostree exports stay (in kept versions, composes or jobs).
    :ivar stale_derived: key hashes of the ``derived`` rows of dropped versions.
    """

    live: set[str] = field(default_factory=set)
    debs: set[str] = field(default_factory=set)
    stale_derived: list[str] = field(default_factory=list)


def mark(session: Session, store: BlobStore, drops: Collection[int]) -> Marks:
    """Everything live once ``drops`` are dropped (see the module docstring)."""
    marks = Marks(live=retention.live_blobs(session, store, drops))
    derived_live, marks.stale_derived = derived(session, retention.dropped_ids(session, drops))
    marks.live |= derived_live
    jobs = job_digests(session)
    composed = compose_debs(session)
    marks.debs = marks.live | jobs | composed
    marks.live |= jobs | composed
    return marks


def derived(session: Session, dropped: Collection[int]) -> tuple[set[str], list[str]]:
    """The blobs ``derived`` rows name, but for the rows of ``dropped`` versions, and the
    key hashes of those rows."""
    live: set[str] = set()
    stale: list[str] = []
    for key_hash, key, blobs in session.execute(
        select(DerivedBlobs.key_hash, DerivedBlobs.key, DerivedBlobs.blobs)
    ):
        if version_of(key) in dropped:
            stale.append(key_hash)
        else:
            live.update(str(ref[0]) for ref in (blobs or {}).values())
    return live, stale


def job_digests(session: Session) -> set[str]:
    """Every digest in the parameters of a queued or running job."""
    found: set[str] = set()
    for params in session.scalars(select(Job.params).where(Job.state.in_(ACTIVE))):
        found.update(_DIGEST.findall(json.dumps(params or {})))
    return found


def compose_debs(session: Session) -> set[str]:
    """Every deb an ostree compose merged."""
    found: set[str] = set()
    for debs in session.scalars(select(OstreeCompose.debs)):
        found.update(str(d) for d in debs or ())
    return found


def delete_derived(session: Session, key_hashes: list[str]) -> int:
    """Delete ``derived`` rows by key hash; returns how many."""
    for i in range(0, len(key_hashes), CHUNK):
        session.execute(
            delete(DerivedBlobs)
            .where(DerivedBlobs.key_hash.in_(key_hashes[i : i + CHUNK]))
            .execution_options(synchronize_session=False)
        )
    return len(key_hashes)
