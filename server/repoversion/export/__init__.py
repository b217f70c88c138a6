"""``repoversion export REF DIR``: a version as a static tree, with its provenance.

The tree holds, for every archive of the version, ``<archive>/dists/…`` and
``<archive>/pool/…`` with the bytes ``/v/REF/<archive>/`` serves (the same signed Release
files, index files and ``by-hash`` names; pool files fetched from upstream first when they
are not stored yet), so any web server or a ``file:`` apt source can serve it. Beside it,
``provenance/`` lets anyone check offline, with ``gpgv`` and ``sha256sum`` alone, that
every file descends from upstream's own signature.

- :mod:`.plan`: what the tree holds, as blobs, read through :mod:`repoversion.serving`.
- :mod:`.tree`: the directory while it is written (``DIR/.partial``) and its completion.
- :mod:`.check`: re-reads the written tree and checks it as apt would (signatures,
  Release → index files → pool files).
- :mod:`.provenance`: ``provenance/``: upstream's signed Releases, the keyrings, the
  map of every file to the signature it descends from, README.txt and check.sh.
- :mod:`.texts`: the README and the shell script shipped in ``provenance/``.
- :mod:`.run`: the whole export, in that order.
"""
