"""Serving repoversions to apt: what a URL means in a version, and the bytes behind it.

Nothing here imports Flask; :mod:`repoversion.web.apt` is a thin layer over
:class:`~repoversion.serving.service.Serving`, and ``repoversion materialize`` uses the
same fetch-through code.

- :mod:`.lookup`: a path under ``/v/<ref>/<archive>/`` → the blob it names (index file,
  ``by-hash``, pool file, or in ``verbatim`` mode any file upstream's Release lists).
- :mod:`.release`: the Release/InRelease/Release.gpg that ``signed`` mode generates.
- :mod:`.derived`: generated blobs made once per version and reused.
- :mod:`.fetch`: on-demand fetch-through with one download per missing blob.
- :mod:`.metrics`: process counters, aggregated across worker processes.
"""
