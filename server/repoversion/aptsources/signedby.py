"""The keyring an archive keeps, from the ``Signed-By`` of this host's apt sources.

``Signed-By`` is a keyring path (or several, space separated) or an inline armored key,
where each empty line is written as `` .`` (deb822's continuation rules).

apt checks an entry without ``Signed-By`` against every key in ``/etc/apt/trusted.gpg*``;
an archive here is never given that whole keyring. Such an entry gets its distribution's
own keyring instead, when the source is recognised as Debian's or Ubuntu's official
archive (see :func:`distribution_of`) and that keyring file is installed; otherwise the
archive is skipped with a sentence saying how to add it with ``--keyring``. A wrong guess
cannot widen trust: the sync then fails the signature check of that archive.

>>> distribution_of("http://mirror.example.org/debian", ["main", "non-free-firmware"])
'Debian'
>>> distribution_of("https://download.docker.com/linux/debian", ["stable"]) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from repoversion.aptsources.host import SystemArchive
from repoversion.archive.keyring import normalise, read_keyring
from repoversion.errors import InvalidInput
from repoversion.upstream.archives import ArchiveSpec

#: distribution name → the keyring its keyring package installs (a module constant, so
#: tests can point it elsewhere).
DISTRIBUTION_KEYRINGS: dict[str, Path] = {
    "Debian": Path("/usr/share/keyrings/debian-archive-keyring.gpg"),
    "Ubuntu": Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg"),
}


@dataclass(frozen=True)
class Distribution:
    """How a distribution's official archives look in a sources entry.

    :ivar segments: the last path segment of their URLs.
    :ivar components: every component they have (a third-party archive at a ``…/debian``
        URL, such as Docker's with its ``stable`` component, lists others).
    :ivar root_domains: domains whose root URL is one of them (Debian's old
        ``http://security.debian.org/ bookworm/updates`` form).
    :ivar foreign_domains: domains whose archives under those segments are other people's
        (Ubuntu's PPAs, each signed by its owner's key).
    """

    name: str
    segments: frozenset[str]
    components: frozenset[str]
    root_domains: tuple[str, ...] = ()
    foreign_domains: tuple[str, ...] = ()


DISTRIBUTIONS = (
    Distribution(
        "Debian",
        frozenset({"debian", "debian-security"}),
        frozenset({"main", "contrib", "non-free", "non-free-firmware"}),
        root_domains=("debian.org",),
    ),
    Distribution(
        "Ubuntu",
        frozenset({"ubuntu", "ubuntu-ports"}),
        frozenset({"main", "restricted", "universe", "multiverse"}),
        foreign_domains=("launchpad.net", "launchpadcontent.net"),
    ),
)


def _within(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def distribution_of(url: str, components: list[str]) -> str | None:
    """The distribution whose official archive ``url`` is, judged by the URL's last path
    segment (or a root URL on the distribution's domain) and the components; else None.

    Suite names are not used: third-party archives reuse Debian's and Ubuntu's codenames.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segment = parts.path.rstrip("/").rpartition("/")[2]
    for dist in DISTRIBUTIONS:
        if not set(components) <= dist.components or _within(host, dist.foreign_domains):
            continue
        if segment in dist.segments or (not segment and _within(host, dist.root_domains)):
            return dist.name
    return None


def distribution_keyring(found: SystemArchive) -> bytes:
    """The keyring of the distribution ``found`` belongs to, for its entries without
    ``Signed-By``.

    :raises InvalidInput: the source is not recognised, or its keyring is not installed.
    """
    how = f"add it with `repoversion archive add {found.name} {found.url} … --keyring FILE`"
    dist = distribution_of(found.url, found.components)
    if dist is None:
        raise InvalidInput(
            f"its apt source names no Signed-By keyring and no distribution keyring is known "
            f"for it; {how}."
        )
    path = DISTRIBUTION_KEYRINGS[dist]
    if not path.is_file():
        raise InvalidInput(
            f"its apt source names no Signed-By keyring and {dist}'s keyring {path} is not "
            f"installed; install it, or {how}."
        )
    return read_keyring(path)


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
    """The archive to add for one of this host's sources, policy ``on_demand``: its
    keyring holds the keys of its ``Signed-By`` values, plus its distribution's when an
    entry has none.

    :raises InvalidInput: a ``Signed-By`` cannot be read, or an entry without one has no
        known distribution keyring.
    """
    blobs = [k for k in (signed_by_keyring(s) for s in found.signed_by) if k]
    if found.unsigned or not blobs:
        blobs.append(distribution_keyring(found))
    # dict.fromkeys: the same file named twice is stored once.
    keyring = b"".join(dict.fromkeys(blobs))
    return ArchiveSpec(
        name=found.name,
        url=found.url,
        suites=found.suites,
        components=found.components,
        architectures=found.architectures,
        keyring=keyring,
        policy="on_demand",
    )
