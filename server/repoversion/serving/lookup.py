"""What a path under ``/v/<ref>/<archive>/`` names in a version.

A version's ``index.json`` says which index files each suite serves (:class:`VersionIndex`);
pool files are found through the version's packages
(:func:`repoversion.versions.contents.pool_file`); in ``verbatim`` mode upstream's own
Release (:func:`upstream_listing`) adds every other file it lists, fetched on demand and
verified against it.

>>> clean_path("pool/main/h/hello/hello_1.0_amd64.deb")
'pool/main/h/hello/hello_1.0_amd64.deb'
>>> clean_path("pool/../../etc/passwd")
Traceback (most recent call last):
...
repoversion.errors.NotFound: No such file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from repoversion.archive.release import FileEntry, parse_release
from repoversion.errors import NotFound, RepoversionError
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef, BlobStore

RELEASE_NAMES = ("InRelease", "Release", "Release.gpg")
_BY_HASH = re.compile(r"(?:(?P<dir>.+)/)?by-hash/(?P<algo>SHA256|SHA512|MD5Sum)/(?P<hex>[0-9a-f]+)")
_ATTR = {"SHA256": "sha256", "SHA512": "sha512", "MD5Sum": "md5"}


def clean_path(path: str) -> str:
    """``path`` unchanged if it stays below its root, else :class:`NotFound`.

    :param path: a relative URL path, already percent-decoded (``%2e%2e`` is ``..``).
    :raises NotFound: empty, absolute, ``.``/``..``/empty segments, NUL or backslash.
    """
    if (
        not path
        or path[0] == "/"
        or "\x00" in path
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise NotFound("No such file.")
    return path


@dataclass(frozen=True, slots=True)
class SuiteIndex:
    """One suite of one archive in a version: the files it serves.

    :ivar name: the suite, e.g. ``bookworm``.
    :ivar files: served path (relative to ``dists/<suite>/``) → blob.
    :ivar by_hash: ``<dir>/by-hash/SHA256/<hex>`` of every served file → blob.
    """

    name: str
    files: Mapping[str, BlobRef]
    by_hash: Mapping[str, BlobRef]


@dataclass(frozen=True, slots=True)
class ArchiveIndex:
    """One archive in a version, as ``index.json`` records it."""

    name: str
    url: str
    mode: str
    policy: str
    suites: Mapping[str, SuiteIndex]

    def split_suite(self, rest: str) -> tuple[SuiteIndex, str]:
        """Split ``<suite>/<path>`` (a suite may hold ``/``: the longest match wins).

        :param rest: what follows ``dists/``.
        :raises NotFound: no suite of this archive matches.
        """
        best: SuiteIndex | None = None
        for name, suite in self.suites.items():
            if rest.startswith(name + "/") and (best is None or len(name) > len(best.name)):
                best = suite
        if best is None:
            raise NotFound(f"Archive {self.name} has no such suite in this repoversion.")
        return best, rest[len(best.name) + 1 :]


@dataclass(frozen=True, slots=True)
class VersionIndex:
    """A version's ``index.json``, parsed once per process.

    :ivar index: the blob holding ``index.json`` itself.
    """

    vid: int
    version: str
    index: BlobRef
    archives: Mapping[str, ArchiveIndex]

    @classmethod
    def of(cls, vid: int, index: BlobRef, data: Mapping[str, Any]) -> VersionIndex:
        """Build from the parsed ``index.json``.

        :param vid: the repoversion's id.
        :param index: the ``index.json`` blob.
        :param data: its parsed content.
        """
        archives: dict[str, ArchiveIndex] = {}
        for name, arc in data.get("archives", {}).items():
            suites: dict[str, SuiteIndex] = {}
            for suite, sdata in arc.get("suites", {}).items():
                files = {p: BlobRef(f["sha256"], f["size"]) for p, f in sdata["files"].items()}
                by_hash = {
                    _by_hash_path(p, "SHA256", ref.sha256): ref
                    for p, ref in files.items()
                    if p not in RELEASE_NAMES
                }
                suites[suite] = SuiteIndex(suite, files, by_hash)
            archives[name] = ArchiveIndex(
                name, arc["url"], arc.get("mode", "signed"), arc.get("policy", ""), suites
            )
        return cls(vid, data["repoversion"], index, archives)


@dataclass(frozen=True, slots=True)
class Listing:
    """The files a Release lists, with their ``by-hash`` names.

    :ivar files: path → entry.
    :ivar by_hash: ``<dir>/by-hash/<SHA256|SHA512|MD5Sum>/<hex>`` → path.
    :ivar acquire_by_hash: whether upstream serves ``by-hash`` (tried first on fetches).
    """

    files: Mapping[str, FileEntry]
    by_hash: Mapping[str, str]
    acquire_by_hash: bool = True

    @classmethod
    def of(cls, files: Mapping[str, FileEntry], acquire_by_hash: bool = True) -> Listing:
        """Index ``files`` by every hash they carry.

        :param files: path → entry.
        :param acquire_by_hash: see the attribute.
        """
        by_hash: dict[str, str] = {}
        for path, entry in files.items():
            for algo, attr in _ATTR.items():
                digest = getattr(entry, attr)
                if digest:
                    by_hash[_by_hash_path(path, algo, digest)] = path
        return cls(files, by_hash, acquire_by_hash)


def entries_listing(entries: Mapping[str, Mapping[str, Any]]) -> Listing:
    """A :class:`Listing` of a generated Release's entries (``SuiteRelease`` JSON).

    :param entries: path → ``{"size", "sha256", "md5"}``.
    """
    return Listing.of(
        {
            p: FileEntry(path=p, size=e["size"], sha256=e["sha256"], md5=e.get("md5"))
            for p, e in entries.items()
        }
    )


def upstream_listing(store: BlobStore, suite: SuiteIndex) -> Listing | None:
    """What upstream's stored Release (verbatim mode) lists, or ``None`` without one.

    The stored Release or InRelease was verified when it was synced and is content
    addressed, so only its signed text is read here.

    :param store: the blob store.
    :param suite: the suite, whose ``files`` hold ``Release`` or ``InRelease``.
    """
    if "Release" in suite.files:
        text = store.read_bytes(suite.files["Release"].sha256)
    elif "InRelease" in suite.files:
        text = signed_text(store.read_bytes(suite.files["InRelease"].sha256))
    else:
        return None
    try:
        release = parse_release(text, f"{suite.name} Release")
    except RepoversionError:
        return None
    return Listing.of(release.files, release.acquire_by_hash)


def signed_text(clearsigned: bytes) -> bytes:
    """The signed text of a clearsigned message (RFC 4880 section 7), dash-unescaped.

    :param clearsigned: an InRelease.
    """
    lines = clearsigned.split(b"\n")
    try:
        start = lines.index(b"-----BEGIN PGP SIGNED MESSAGE-----")
        body = lines.index(b"", start) + 1
        end = lines.index(b"-----BEGIN PGP SIGNATURE-----", body)
    except ValueError:
        return b""
    out = [line[2:] if line.startswith(b"- ") else line for line in lines[body:end]]
    return b"\n".join(line.rstrip(b"\r") for line in out) + b"\n"


def in_dists(
    arc: ArchiveIndex,
    suite: SuiteIndex,
    path: str,
    listing: Callable[[], Listing | None],
    *,
    fetchable: bool,
) -> Target:
    """The file ``dists/<suite>/<path>`` names: a served index, or one found by hash.

    :param arc: the archive.
    :param suite: the suite.
    :param path: relative to ``dists/<suite>/``.
    :param listing: the Release's listing, asked for only when ``path`` is not a
        served file or its SHA256 ``by-hash`` name.
    :param fetchable: any listed file may be fetched (verbatim mode), not just served ones.
    :raises NotFound: the version does not serve it.
    """
    name = path.rsplit("/", 1)[-1]
    ref = suite.files.get(path)
    if ref is not None:
        # upstream's current Release files are not the ones this version holds
        up = () if path in RELEASE_NAMES else _upstream(suite.name, path, ref)
        return Target(ref.sha256, ref.size, name, arc.name, up)
    ref = suite.by_hash.get(path)
    if ref is not None:
        return Target(ref.sha256, ref.size, name, arc.name, (f"dists/{suite.name}/{path}",))
    found = listing()
    if found is not None:
        listed = found.by_hash.get(path) if _BY_HASH.fullmatch(path) else path
        entry = found.files.get(listed) if listed else None
        if entry is not None and (fetchable or listed in suite.files):
            up = _upstream(suite.name, entry.path, BlobRef(entry.sha256, entry.size))
            if not found.acquire_by_hash:
                up = up[1:]
            return Target(entry.sha256, entry.size, name, arc.name, up)
    raise NotFound(f"{arc.name}: dists/{suite.name}/{path} is not in this repoversion.")


def _by_hash_path(path: str, algo: str, digest: str) -> str:
    directory = path.rpartition("/")[0]
    return f"{directory}/by-hash/{algo}/{digest}" if directory else f"by-hash/{algo}/{digest}"


def _upstream(suite: str, path: str, ref: BlobRef) -> tuple[str, ...]:
    """Where upstream has an index file: its by-hash name first (kept after it changes)."""
    return (f"dists/{suite}/{_by_hash_path(path, 'SHA256', ref.sha256)}", f"dists/{suite}/{path}")
