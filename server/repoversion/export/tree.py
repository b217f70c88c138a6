"""The export directory while it is written, and what makes it complete.

Everything is written under ``DIR/.partial`` first; once it is written and verified, its
entries are moved into ``DIR`` (``provenance/`` last, so a ``DIR`` holding
``provenance/index.json`` is a complete export). A failure removes ``.partial`` (and
``DIR`` itself when the export created it). An export only ever writes into a new or an
empty directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from repoversion.errors import InvalidInput
from repoversion.serving.lookup import clean_path
from repoversion.storage.base import BlobRef, BlobStore

PARTIAL = ".partial"
#: moved into place last: its presence says the export is complete
LAST = "provenance"
_CHUNK = 1 << 20


def check_destination(dest: Path) -> None:
    """Refuse a destination that is not a new or empty directory (nothing is written).

    :raises InvalidInput: ``dest`` is a file, or a directory that holds something.
    """
    if dest.is_symlink() and not dest.exists():
        raise InvalidInput(f"{dest} is a dangling symbolic link; give a new or empty directory.")
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{dest} is not a directory; give a new or empty directory.")
    if dest.is_dir() and any(dest.iterdir()):
        raise InvalidInput(
            f"{dest} is not empty; export writes only into a new or empty directory."
        )


class Staging:
    """``DIR/.partial`` while the export is written.

    :param dest: the export's directory (checked by :func:`check_destination`).
    """

    def __init__(self, dest: Path) -> None:
        check_destination(dest)
        self.dest = dest
        self.created = not dest.exists()
        try:
            dest.mkdir(parents=True, exist_ok=True)
            self.root = dest / PARTIAL
            self.root.mkdir()
        except OSError as exc:
            raise InvalidInput(f"Cannot write into {dest}: {exc.strerror}.") from None

    def path(self, rel: str) -> Path:
        """Where ``rel`` (a ``/``-separated path below the root) is written.

        :raises NotFound: ``rel`` would leave the root.
        """
        return self.root.joinpath(*clean_path(rel).split("/"))

    def write_blob(self, store: BlobStore, rel: str, blob: BlobRef) -> None:
        """Copy a stored blob to ``rel`` (its digest is checked when the tree is)."""
        target = self._parent(rel)
        local = store.local_path(blob.sha256)
        if local is not None:
            shutil.copyfile(local, target)
            return
        with store.open(blob.sha256) as src, target.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    def write_bytes(self, rel: str, data: bytes, mode: int = 0o644) -> None:
        """Write ``data`` to ``rel``."""
        target = self._parent(rel)
        target.write_bytes(data)
        target.chmod(mode)

    def link(self, rel: str, same_as: str) -> None:
        """``rel`` holds the bytes of ``same_as`` (already written): a hard link where the
        file system allows one, else a copy."""
        target, source = self._parent(rel), self.path(same_as)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    def _parent(self, rel: str) -> Path:
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def finish(self) -> None:
        """Move everything into the destination, ``provenance/`` last."""
        names = sorted(p.name for p in self.root.iterdir())
        for name in [n for n in names if n != LAST] + [n for n in names if n == LAST]:
            os.replace(self.root / name, self.dest / name)
        self.root.rmdir()

    def discard(self) -> None:
        """Remove what was written (and the destination, if the export created it)."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self.created:
            with contextlib.suppress(OSError):
                self.dest.rmdir()
