"""Hand-built .deb files for the ostree tests: any tar member (hostile ones too, which
``dpkg-deb`` would refuse to build), any member compression.

    deb = build_deb([Entry("usr/bin/tool", b"#!/bin/sh\\n", mode=0o4755),
                     Entry("usr/bin/alias", type="symlink", link="tool")],
                    compression="zst")
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Literal

Kind = Literal["file", "dir", "symlink", "hardlink", "fifo", "chr", "blk"]
_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
}
#: a fixed mtime, so the same entries give the same deb
MTIME = 1_700_000_000


@dataclass(frozen=True)
class Entry:
    """One tar member; ``name`` is written as given, prefixed by ``./`` unless ``raw``."""

    name: str
    data: bytes = b""
    type: Kind = "file"
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    link: str = ""
    raw: bool = False


def compress(data: bytes, kind: str) -> bytes:
    """``data`` in ``kind``: ``gz``, ``xz``, ``zst``, ``bz2`` or ``""``."""
    if kind == "gz":
        return gzip.compress(data, mtime=0)
    if kind == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "zst":
        return subprocess.run(
            ["zstd", "-q", "-c"], input=data, capture_output=True, check=True
        ).stdout
    assert kind == "", kind
    return data


def tar_of(entries: list[Entry]) -> bytes:
    """A GNU tar of ``entries`` in order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name if e.raw else "./" + e.name)
            info.type = _TYPES[e.type]
            info.mode = e.mode if e.mode is not None else (0o755 if e.type == "dir" else 0o644)
            info.uid, info.gid = e.uid, e.gid
            info.uname = info.gname = "root" if e.uid == 0 else ""
            info.mtime = MTIME
            info.linkname = e.link
            if e.type in ("chr", "blk"):
                info.devmajor, info.devminor = 1, 3
            if e.type == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def control_text(name: str = "tool", version: str = "1.0-1", arch: str = "amd64") -> str:
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: Repoversion Tests <tests@example.invalid>\n"
        f"Description: test package {name}\n a hand-built deb for the ostree tests.\n"
    )


def _ar_member(name: str, data: bytes) -> bytes:
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}".encode() + b"`\n"
    return header + data + (b"\n" if len(data) % 2 else b"")


def build_deb(
    entries: list[Entry],
    *,
    control: str | None = None,
    compression: str = "xz",
    control_compression: str | None = None,
    scripts: dict[str, bytes] | None = None,
) -> bytes:
    """A .deb whose data.tar holds ``entries`` (with a root ``./`` directory first).

    :param compression: of data.tar: ``gz``, ``xz``, ``zst``, ``bz2`` or ``""``.
    :param control_compression: of control.tar (default: ``compression``).
    :param scripts: more control members (``postinst``…).
    """
    ctl_kind = compression if control_compression is None else control_compression
    ctl_entries = [
        Entry(".", type="dir", raw=True),
        Entry("control", (control or control_text()).encode()),
    ]
    ctl_entries += [Entry(n, d, mode=0o755) for n, d in (scripts or {}).items()]
    data = tar_of([Entry(".", type="dir", raw=True), *entries])
    suffix = {"": ""}.get(compression, "." + compression)
    ctl_suffix = {"": ""}.get(ctl_kind, "." + ctl_kind)
    return (
        b"!<arch>\n"
        + _ar_member("debian-binary", b"2.0\n")
        + _ar_member(f"control.tar{ctl_suffix}", compress(tar_of(ctl_entries), ctl_kind))
        + _ar_member(f"data.tar{suffix}", compress(data, compression))
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: a deb exercising what an export keeps: modes, setuid/setgid, ownership, symlinks
#: (absolute and relative), hard links
RICH = [
    Entry("usr", type="dir"),
    Entry("usr/bin", type="dir"),
    Entry("usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755),
    Entry("usr/bin/suid", b"#!/bin/sh\necho suid\n", mode=0o4755),
    Entry("usr/bin/sgid", b"#!/bin/sh\necho sgid\n", mode=0o2755, gid=42),
    Entry("usr/bin/tool-link", type="symlink", link="tool"),
    Entry("usr/bin/abs-link", type="symlink", link="/lib64/ld-linux-x86-64.so.2"),
    Entry("usr/bin/hard", type="hardlink", link="./usr/bin/tool"),
    Entry("etc", type="dir"),
    Entry("etc/tool.conf", b"key = value\n", mode=0o640, uid=0, gid=42),
]
