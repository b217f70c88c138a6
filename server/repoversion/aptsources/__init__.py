"""apt sources, both ways: this host's (read for ``init --from-system``), and the lines
another machine pastes to use a repoversion.

- :mod:`.host`: apt's own sources files of this host, parsed and merged into archives;
- :mod:`.signedby`: their ``Signed-By`` values turned into the keyrings archives keep;
- :mod:`.client`: the ``deb`` lines and key command for a version.
"""
