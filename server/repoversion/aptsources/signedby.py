"""The keyring an archive keeps, from the ``Signed-By`` of this host's apt sources.

``Signed-By`` is a keyring path (or several, space separated) or an inline armored key,
where each empty line is written as `` .`` (deb822's continuation rules).
"""

from __future__ import annotations

from pathlib import Path

from repoversion.aptsources.host import SystemArchive
from repoversion.archive.keyring import normalise, read_keyring
from repoversion.upstream.archives import ArchiveSpec


def signed_by_keyring(value: str) -> bytes | None:
    """The keys one ``Signed-By`` value names (None when it names no file).

    :raises InvalidInput: a file cannot be read or holds no OpenPGP key.
    """
    if "BEGIN PGP PUBLIC KEY BLOCK" in value:
        text = "\n".join("" if line.strip() == "." else line.strip() for line in value.splitlines())
        return normalise(text.encode(), "The inline Signed-By key")
    blobs = [read_keyring(Path(p)) for p in value.split() if p.startswith("/")]
    return b"".join(blobs) or None


def spec_of(found: SystemArchive) -> ArchiveSpec:
    """The archive to add for one of this host's sources, policy ``on_demand``.

    :raises InvalidInput: its ``Signed-By`` cannot be read.
    """
    keyring = b"".join(filter(None, (signed_by_keyring(s) for s in found.signed_by))) or None
    return ArchiveSpec(
        name=found.name,
        url=found.url,
        suites=found.suites,
        components=found.components,
        architectures=found.architectures,
        keyring=keyring,
        policy="on_demand",
    )
