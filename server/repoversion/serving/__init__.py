"""Serving repoversions to apt: what a URL means in a version, and the bytes behind it.

Nothing here imports Flask; :mod:`repoversion.web.apt` is a thin layer over
:class:`~repoversion.serving.service.Serving`, and ``repoversion materialize`` uses the
same fetch-through code.

- :mod:`.service`: :class:`~.service.Serving`, one per process: a URL → a
  :class:`~.target.Target`, with the caches of what a committed version never changes.
- :mod:`.target`: what a URL names, the value handed to the web layer.
- :mod:`.lookup`: a path under ``/v/<ref>/<archive>/`` → the blob it names (index file,
  ``by-hash``, pool file, or in ``verbatim`` mode another file upstream's Release lists).
- :mod:`.scope`: the components and architectures a suite mirrors, read from the files
  the version serves. A ``verbatim`` file the version does not serve may be fetched only
  within them; anything else upstream lists is a 404.
- :mod:`.release`: the Release/InRelease/Release.gpg that ``signed`` mode generates.
- :mod:`.derived`: generated blobs made once per version and reused.
- :mod:`.lockrepo`: a stored lockfile as an apt repository of exactly its packages,
  ``/l/<id>/<archive>/``.
- :mod:`.fetch`: on-demand fetch-through: a pool of downloader threads per process, one
  download per missing blob across threads and processes, bounded waiting (503).
- :mod:`.transfer`: one upstream file into the store before its ``fetch_deadline``
  (:class:`~.transfer.Deadline`), verified while it streams.
- :mod:`.locks`: ``flock`` locks shared by threads and processes, never waited on past a
  deadline; :mod:`.cache`: small thread-safe LRU caches.
- :mod:`.materialize`: ``repoversion materialize``, storing every file a version or a
  lockfile needs.
"""
