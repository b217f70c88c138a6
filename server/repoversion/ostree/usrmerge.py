"""Merged ``/usr`` for a checked-out root: ``/bin``, ``/sbin`` and ``/lib*`` become links.

Debian 12 installs with merged ``/usr`` (debootstrap creates ``/bin -> usr/bin`` and the
others before unpacking anything, and dpkg then follows those links), and its
``usr-is-merged`` package refuses to install elsewhere; ostree deployments expect it too.
A package still ships ``/bin/bash`` or ``/lib/x86_64-linux-gnu/libc.so.6``, so the merged
package trees have real top-level directories; before configuring or laying out a root,
:func:`merge_usr` moves their contents under ``/usr`` and puts the links in their place,
as the ``usrmerge`` package's conversion does. dpkg's lists keep the paths as shipped,
which is what dpkg records on a merged system too.
"""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

from repoversion.errors import Conflict
from repoversion.ostree.rootfs import real_dir

#: the top-level directories that live under /usr on a merged system
MERGED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def merge_usr(root: Path) -> None:
    """Move ``/bin``, ``/sbin``, ``/lib*`` under ``/usr`` and link them.

    :raises Conflict: a path exists in both places with different contents.
    """
    usr = real_dir(root, "usr")
    if usr is None:
        return
    for name in MERGED:
        top = real_dir(root, name)
        if top is None:
            continue
        target = usr / name
        if not target.exists() and not target.is_symlink():
            top.rename(target)
        elif target.is_dir() and not target.is_symlink():
            _move_into(top, target, f"/{name}")
            top.rmdir()
        else:
            raise Conflict(f"Cannot merge /usr: /{name} is a directory and /usr/{name} is not.")
        (root / name).symlink_to(f"usr/{name}")


def _move_into(src: Path, dst: Path, shown: str) -> None:
    for entry in sorted(src.iterdir()):
        there = dst / entry.name
        if not there.exists() and not there.is_symlink():
            entry.rename(there)
        elif _is_dir(entry) and _is_dir(there):
            _move_into(entry, there, f"{shown}/{entry.name}")
            entry.rmdir()
        elif _same(entry, there):
            entry.unlink()
        else:
            raise Conflict(
                f"Cannot merge /usr: {shown}/{entry.name} and /usr{shown}/{entry.name} "
                "both exist and differ."
            )


def _is_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _same(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
    return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)
