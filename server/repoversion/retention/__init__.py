"""Retention and garbage collection (``repoversion gc``, ``POST /api/v1/gc``).

- :mod:`.policy`: what is asked: the versions to keep, the grace, a dry run;
- :mod:`.marks`: every blob something still needs (kept versions, ``derived`` rows,
  jobs, ostree composes);
- :mod:`.sweep`: listing the store and freeing what nothing marked, once older than the
  grace;
- :mod:`.ostree`: dropping the per-deb ostree commits nothing needs, and pruning;
- :mod:`.run`: one collection, under the sync lock, and its report.

Which versions go, and the membership rows only they held, are
:mod:`repoversion.versions.retention`'s: ``versions/`` remains the only writer of
versions. docs/operations.md explains the rules and why the collection is safe while
syncs and requests run.
"""
