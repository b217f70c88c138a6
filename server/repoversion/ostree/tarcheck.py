"""The members of a deb's tar archives, checked one by one, so that the archive given to
``ostree commit --tree=tar=`` holds only what ostree can hold, inside its root.

:func:`scan` reads the headers of a plain (decoded, seekable) tar and checks every
member; when nothing is to be dropped or renamed, which is the case of debs built by
``dpkg-deb``, the archive is committed as it is. Otherwise :func:`rewrite` copies it with
the dropped members left out and every name normalised.

A name that is absolute or has a ``..`` component, a hard link whose target leaves the
root or names no earlier member, or a path through an earlier symlink raises
:class:`~repoversion.errors.BadDeb`: the caller then discards what was written. Symlink
targets are kept as they are (``/lib64/ld-linux-x86-64.so.2`` is a normal absolute one).
Device nodes and FIFOs, which ostree cannot hold, are dropped and listed. Modes (setuid
and setgid too), ownership and hard links are kept; names are normalised (``./usr/bin/x``).

>>> f = TarFilter("t.deb")
>>> f.path_of("./usr/bin/hello"), f.path_of("./"), f.path_of("usr//lib/./x")
('usr/bin/hello', '', 'usr/lib/x')
>>> f.path_of("../etc/passwd")
Traceback (most recent call last):
...
repoversion.errors.BadDeb: t.deb has a tar member that leaves its root: '../etc/passwd'.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from repoversion.errors import BadDeb

#: the most a file whose contents are kept (the control file) may hold
MAX_KEPT = 1 << 20
#: entries ostree cannot hold, by tar type
DROPPED_TYPES = {
    tarfile.FIFOTYPE: "FIFO",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
}
#: member types ostree reads as they are
_PLAIN_TYPES = frozenset({tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE})
#: pax header keys carried over (extended attributes); the rest tarfile writes anew
_XATTR_PREFIXES = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")


class TarFilter:
    """Checks the members of one tar archive in order and says what to write of each.

    :param what: names the deb (and member) in error sentences.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.symlinks: set[str] = set()
        self.kept: set[str] = set()
        self.dropped: list[str] = []

    def path_of(self, name: str) -> str:
        """``name`` relative to the root, normalised (``''`` for the root itself).

        :raises BadDeb: it is absolute or has a ``..`` component.
        """
        if name.startswith("/") or ".." in name.split("/"):
            raise BadDeb(f"{self.what} has a tar member that leaves its root: {name!r}.")
        path = posixpath.normpath(name)
        return "" if path == "." else path

    def _check_parents(self, path: str, name: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.symlinks:
                raise BadDeb(
                    f"{self.what} has a tar member through an earlier symlink "
                    f"({'/'.join(parts[:i])}): {name!r}."
                )

    def verbatim(self, info: tarfile.TarInfo, path: str) -> bool:
        """Whether the member can go to ostree as it is: a canonical ``./PATH`` name (and
        hard link target), and a plain type."""
        if info.name != ("./" + path if path else "."):
            return False
        if info.islnk() and info.linkname != "./" + self.path_of(info.linkname):
            return False
        return info.type in _PLAIN_TYPES

    def check(self, info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        """The member as it is written (normalised names), or None when it is dropped.

        :raises BadDeb: see the module's description.
        """
        path = self.path_of(info.name)
        self._check_parents(path, info.name)
        if info.type in DROPPED_TYPES:
            self.dropped.append("/" + path)
            return None
        out = tarfile.TarInfo("./" + path if path else "./")
        for attr in ("mode", "uid", "gid", "uname", "gname", "mtime", "type", "size"):
            setattr(out, attr, getattr(info, attr))
        out.pax_headers = {
            k: v for k, v in info.pax_headers.items() if k.startswith(_XATTR_PREFIXES)
        }
        if info.issym():
            self.symlinks.add(path)
            out.linkname = info.linkname  # kept as it is, absolute or not
        elif info.islnk():
            out.linkname = self._link_target(info)
        elif info.isreg():
            out.type = tarfile.REGTYPE  # CONTTYPE, AREGTYPE: a plain file to ostree
        elif not info.isdir():
            raise BadDeb(f"{self.what} has a tar member of an unknown type: {info.name!r}.")
        self.kept.add(path)
        return out

    def _link_target(self, info: tarfile.TarInfo) -> str:
        """The hard link's target as written, checked: inside the root, through no
        symlink, an earlier member (a dropped one's link is an error too)."""
        name = info.linkname
        if name.startswith("/") or ".." in name.split("/"):
            raise BadDeb(
                f"{self.what} has a hard link whose target leaves its root: "
                f"{info.name!r} -> {name!r}."
            )
        target = self.path_of(name)
        self._check_parents(target, name)
        if target not in self.kept:
            raise BadDeb(
                f"{self.what} has a hard link to no earlier member: {info.name!r} -> {name!r}."
            )
        return "./" + target


@dataclass
class Scan:
    """What :func:`scan` found: the entries to drop, whether the archive can be committed
    as it is, and the contents asked for."""

    dropped: list[str] = field(default_factory=list)
    verbatim: bool = True
    kept: dict[str, bytes] = field(default_factory=dict)


def _members(src: IO[bytes], what: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=src, mode="r:", errorlevel=2)
    except tarfile.TarError as exc:
        raise BadDeb(f"{what} is not a valid tar archive ({exc}).") from None


def _each(tar: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    """The members in order, read header by header (none kept in memory)."""
    try:
        while (info := tar.next()) is not None:
            tar.members.clear()  # type: ignore[attr-defined]  # read once, kept by none
            yield info
    except tarfile.TarError as exc:
        raise BadDeb(f"{what} is not a valid tar archive ({exc}).") from None


def scan(src: IO[bytes], what: str, keep: frozenset[str] = frozenset()) -> Scan:
    """Check every member of the plain tar ``src`` (seekable; data is skipped, not read).

    :param keep: paths (``control``) whose contents are returned, up to :data:`MAX_KEPT`
        bytes each.
    :raises BadDeb: a hostile member, or ``src`` is not a tar archive.
    """
    checker = TarFilter(what)
    found = Scan(dropped=checker.dropped)
    with _members(src, what) as tar:
        for info in _each(tar, what):
            member = checker.check(info)
            path = member.name[2:] if member is not None else ""
            found.verbatim = found.verbatim and member is not None and checker.verbatim(info, path)
            if member is not None and path in keep and info.isreg():
                if info.size > MAX_KEPT:
                    raise BadDeb(f"{what}: {path} is larger than {MAX_KEPT} bytes.")
                data = tar.extractfile(info)
                assert data is not None
                found.kept[path] = data.read()
    return found


def rewrite(src: IO[bytes], out: IO[bytes], what: str) -> None:
    """Copy the plain tar ``src`` (already scanned) to ``out`` without the dropped
    members, every name normalised.

    :raises BadDeb: as :func:`scan`.
    """
    checker = TarFilter(what)
    with (
        _members(src, what) as tin,
        tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tout,
    ):
        for info in _each(tin, what):
            member = checker.check(info)
            if member is not None:
                tout.addfile(member, tin.extractfile(info) if info.isreg() else None)
