"""Paths inside a checked-out root that never lead out of it.

A composed root holds whatever its packages ship, symlinks with absolute targets included
(``/lib64/ld-linux-x86-64.so.2`` is one). Resolved on this machine, such a link points at
*this machine's* files, so every change the composer makes in a root goes through
:func:`inside`, which refuses a path with a symlink among its directories.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "etc").mkdir(); (root / "usr").symlink_to("/usr")
>>> inside(root, "etc/machine-id") == root / "etc/machine-id", inside(root, "usr/sbin/x")
(True, None)
"""

from __future__ import annotations

import shutil
from pathlib import Path


def inside(root: Path, rel: str) -> Path | None:
    """``root/rel`` if none of its parent directories (below ``root``) is a symlink, else
    None. The last component may be anything: callers act on it, not through it."""
    path = root
    parts = Path(rel).parts
    for part in parts[:-1]:
        path = path / part
        if path.is_symlink():
            return None
    return root / rel


def real_dir(root: Path, rel: str) -> Path | None:
    """``root/rel`` if it is a directory and no part of it is a symlink."""
    path = inside(root, rel)
    if path is None or path.is_symlink() or not path.is_dir():
        return None
    return path


def remove(path: Path) -> None:
    """Remove a file, symlink or directory tree (never following a symlink)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def empty(path: Path) -> None:
    """Remove what directory ``path`` holds, keeping the directory."""
    for child in path.iterdir():
        remove(child)
