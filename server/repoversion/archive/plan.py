"""Which index files a sync fetches, and from which URLs, in which order.

:func:`plan_indices` turns a verified :class:`~repoversion.archive.release.Release` and the
configured components, architectures and languages into :class:`IndexPlan` objects: for
each logical index (for example ``main/binary-amd64/Packages``), the URLs to try in order
and the entry each one must match.

Compression preference. A sync decompresses every index it fetches, so the order is
by expected total time = transfer + decoding. Decoding bookworm's main/binary-amd64
Packages (50 MB) on the reference machine takes: zst 0.09 s, gz 0.17 s, xz 0.50 s,
bz2 1.06 s; the files are 9.1, 12.1, 8.8, 9.1 and 50 MB (uncompressed). Over loopback
or any link faster than ~80 Mbit/s the 3.3 MB that gz adds over xz cost less than the
0.33 s xz decoding adds, hence ``zst, gz, xz, bz2``; the uncompressed file comes last
because it is the largest and Debian's mirrors list it without serving it (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from repoversion.archive.compression import available, kind_from_path
from repoversion.archive.release import FileEntry, Release
from repoversion.errors import BadUpstream

#: Compressions in order of preference (see the module docstring); "" is uncompressed.
DEFAULT_PREFERENCE: tuple[str, ...] = ("zst", "gz", "xz", "bz2", "")

_SUFFIX = {"": "", "xz": ".xz", "gz": ".gz", "bz2": ".bz2", "zst": ".zst"}

# name in the Release -> (FileEntry attribute, hex length)


class Fetch(NamedTuple):
    """One URL to try for an index.

    :ivar url_path: relative to the suite's directory (``dists/<suite>/``).
    :ivar entry: the Release's entry that the fetched bytes must match.
    :ivar compression: the kind to decompress the bytes with (``""``: none).
    """

    url_path: str
    entry: FileEntry
    compression: str


IndexKind = Literal["packages", "sources", "translation"]


@dataclass(frozen=True, slots=True)
class IndexPlan:
    """How to get one logical index file, such as ``main/binary-amd64/Packages``.

    :ivar path: the uncompressed name, relative to the suite's directory.
    :ivar kind: ``packages``, ``sources`` or ``translation``.
    :ivar component: e.g. ``main``.
    :ivar architecture: e.g. ``amd64``; ``source`` for Sources; ``None`` for Translation.
    :ivar language: the language of a Translation, else ``None``.
    :ivar uncompressed: the Release's entry for the uncompressed file, which the
        decompressed bytes must match, when the Release lists it.
    :ivar candidates: the URLs to try in order, falling back on 404.
    :ivar variants: the listed compressed/uncompressed files, preferred first.
    :ivar required: False for indices apt fetches only when they exist (Translation,
        binary-all).
    """

    path: str
    kind: IndexKind
    component: str
    architecture: str | None
    language: str | None
    uncompressed: FileEntry | None
    candidates: tuple[Fetch, ...]
    variants: tuple[FileEntry, ...]
    required: bool = True


def plan_indices(
    release: Release,
    *,
    components: Sequence[str],
    architectures: Sequence[str],
    languages: Sequence[str] = ("en",),
    preference: Sequence[str] = DEFAULT_PREFERENCE,
    what: str = "Release",
) -> list[IndexPlan]:
    """Decide which index files to fetch, and from which URLs, in order.

    For every component: ``binary-<arch>/Packages`` for each architecture (and
    ``binary-all/Packages`` when the Release has ``all`` and does not say
    ``No-Support-for-Architecture-all: Packages``, as apt does), ``source/Sources`` when
    ``source`` is among ``architectures``, and ``i18n/Translation-<lang>`` for each
    language the Release lists. Each logical index gets the listed compressed variants
    in ``preference`` order, each as its by-hash URL first (when the Release says
    ``Acquire-By-Hash: yes``) and then its plain path.

    :param release: the parsed, verified Release.
    :param components: e.g. ``["main"]``.
    :param architectures: e.g. ``["amd64", "source"]``.
    :param languages: Translation languages; ``[]`` for none.
    :param preference: compression kinds, most preferred first.
    :param what: names the file in error messages.
    :raises BadUpstream: the Release lists no variant of a Packages or Sources index
        that the configuration asks for.
    """
    wanted: list[tuple[str, IndexKind, str, str | None, str | None, bool]] = []
    binary = [arch for arch in architectures if arch != "source"]
    no_all = (release.get("No-Support-for-Architecture-all") or "").split()
    implicit_all = (
        bool(binary)
        and "all" not in binary
        and "all" in release.architectures
        and "Packages" not in no_all
    )
    for component in components:
        for arch in binary:
            path = f"{component}/binary-{arch}/Packages"
            wanted.append((path, "packages", component, arch, None, True))
        if implicit_all:
            path = f"{component}/binary-all/Packages"
            wanted.append((path, "packages", component, "all", None, False))
        if "source" in architectures:
            path = f"{component}/source/Sources"
            wanted.append((path, "sources", component, "source", None, True))
        for language in languages:
            path = f"{component}/i18n/Translation-{language}"
            wanted.append((path, "translation", component, None, language, False))

    plans: list[IndexPlan] = []
    for path, kind, comp, index_arch, lang, required in wanted:
        variants = _variants(release, path, preference)
        if not variants:
            if required:
                raise BadUpstream(f"{what} does not list {path} in any known compression")
            continue
        candidates: list[Fetch] = []
        for entry in variants:
            compression = kind_from_path(entry.path)
            if release.acquire_by_hash:
                candidates.append(Fetch(entry.by_hash_path, entry, compression))
            candidates.append(Fetch(entry.path, entry, compression))
        plans.append(
            IndexPlan(
                path=path,
                kind=kind,
                component=comp,
                architecture=index_arch,
                language=lang,
                uncompressed=release.files.get(path),
                candidates=tuple(candidates),
                variants=tuple(variants),
                required=required,
            )
        )
    return plans


def _variants(release: Release, path: str, preference: Iterable[str]) -> list[FileEntry]:
    """The listed variants of ``path`` that this machine can decode, preferred first."""
    out = []
    for kind in preference:
        entry = release.files.get(path + _SUFFIX[kind])
        if entry is not None and available(kind):
            out.append(entry)
    return out
