"""ostree's metadata objects (dirtrees, commits) written in process, as ostree writes them.

Two things the ``ostree`` command line of Debian 12 cannot do well enough:

- **merging many trees.** ``ostree commit --tree=ref=A --tree=ref=B …`` links a tree by
  checksum only where nothing else is in that directory yet; in a directory that two
  trees share it looks up every entry through the repository, which in an archive-mode
  repository cost about 1.7 ms an entry here (build-essential's 75 trees, 8,464 entries:
  25 s). :mod:`.union` computes the merged directories from the trees' listings instead
  and :func:`write_dirtree` stores the few new ones;
- **long metadata.** ``--add-metadata-string=KEY=VALUE`` takes the value as one argument,
  and Linux refuses an argument over 128 KiB (``MAX_ARG_STRLEN``): the lockfile of a few
  hundred packages is longer. :func:`write_commit` takes any value.

Debian 12 ships no introspection data for libostree (``gir1.2-ostree-1.0``), but GLib's
own ``GVariant`` is reachable through PyGObject (``python3-gi``), and these objects are
GVariants of documented types: each is serialized in normal form and stored, uncompressed
as an archive-mode repository keeps metadata, under the SHA-256 of those bytes, as ostree
does. ``ostree fsck`` checks them like any other; the commit is then signed and given its
ref with the ``ostree`` command.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: (files: name, content checksum; dirs: name, dirtree checksum, dirmeta checksum)
DIRTREE_TYPE = "(a(say)a(sayay))"
#: (metadata, parent, related objects, subject, body, timestamp, root dirtree, root dirmeta)
COMMIT_TYPE = "(a{sv}aya(say)sstayay)"
#: the metadata key ostree binds a commit to its refs with
BINDING = "ostree.ref-binding"


def _glib() -> Any:
    from gi.repository import GLib

    return GLib


def object_path(repo: Path, checksum: str, kind: str) -> Path:
    """Where an archive-mode repository keeps object ``checksum`` of ``kind``
    (``commit``, ``dirtree``, ``dirmeta``)."""
    return repo / "objects" / checksum[:2] / f"{checksum[2:]}.{kind}"


def write_dirtree(
    repo: Path,
    files: Sequence[tuple[str, str]],
    dirs: Sequence[tuple[str, str, str]],
) -> str:
    """Store a dirtree object and return its checksum.

    :param files: (name, content checksum) of each file and symlink.
    :param dirs: (name, dirtree checksum, dirmeta checksum) of each subdirectory.
    """
    glib = _glib()
    # ostree sorts entries by the bytes of their names
    value = glib.Variant(
        DIRTREE_TYPE,
        (
            [(n, bytes.fromhex(c)) for n, c in sorted(files, key=lambda f: f[0].encode())],
            [
                (n, bytes.fromhex(t), bytes.fromhex(m))
                for n, t, m in sorted(dirs, key=lambda d: d[0].encode())
            ],
        ),
    )
    return _store(repo, value, "dirtree")


def write_commit(
    repo: Path,
    root: tuple[str, str],
    subject: str,
    timestamp: int,
    strings: Mapping[str, str],
    ref: str | None,
) -> str:
    """Store a commit without parent of the tree ``root`` (dirtree, dirmeta checksums)
    with string metadata ``strings`` (and bound to ``ref``, if given); return its
    checksum."""
    glib = _glib()
    meta = {key: glib.Variant("s", value) for key, value in strings.items()}
    if ref is not None:
        meta[BINDING] = glib.Variant("as", [ref])
    # ostree stores the timestamp big-endian whatever the machine's byte order
    stamp = int.from_bytes(struct.pack(">Q", timestamp), sys.byteorder)
    value = glib.Variant(
        COMMIT_TYPE,
        (meta, b"", [], subject, "", stamp, bytes.fromhex(root[0]), bytes.fromhex(root[1])),
    )
    return _store(repo, value, "commit")


def commit_root(repo: Path, checksum: str) -> tuple[str, str]:
    """The (dirtree, dirmeta) checksums of commit ``checksum``'s root."""
    glib = _glib()
    data = object_path(repo, checksum, "commit").read_bytes()
    variant = glib.Variant.new_from_bytes(
        glib.VariantType.new(COMMIT_TYPE), glib.Bytes.new(data), False
    )
    tree, meta = (bytes(variant.get_child_value(i).get_data_as_bytes().get_data()) for i in (6, 7))
    return tree.hex(), meta.hex()


def _store(repo: Path, value: Any, kind: str) -> str:
    """Write an object as ostree does: normal form, a temporary file in the repository,
    synced, renamed into place (an object is named by its content, so a concurrent
    writer writes the same bytes)."""
    data = bytes(value.get_normal_form().get_data_as_bytes().get_data())
    checksum = hashlib.sha256(data).hexdigest()
    target = object_path(repo, checksum, kind)
    if target.exists():
        return checksum
    target.parent.mkdir(mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=repo / "tmp", prefix="repoversion-object-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return checksum
