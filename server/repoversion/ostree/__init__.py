"""ostree: each deb committed once to its own refs, roots composed from lockfiles (SPEC 7).

- :mod:`.repo`: :class:`~.repo.Repo`, the ``ostree`` command line over one archive-mode
  repository (commits, refs, the signed summary).
- :mod:`.debfile`: a .deb read as an ``ar`` archive, its members decoded;
  :mod:`.tarcheck`: their tar members checked, and filtered into what ostree can hold.
- :mod:`.blobs`: a deb's bytes, fetched through when not stored, verified.
- :mod:`.export`: ``dpkg/data/<sha256>`` and ``dpkg/control/<sha256>`` for each deb,
  recorded in the ``ostree_export`` table; :mod:`.wanted`: the debs an export asks for.
- :mod:`.records`: the small queries on that table.

The export jobs (for ``POST /api/v1/ostree/exports`` and archives marked
``ostree_export``) are :mod:`repoversion.jobs.exports`.

docs/ostree.md describes what users see.
"""
