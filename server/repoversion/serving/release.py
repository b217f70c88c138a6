"""The Release a ``signed`` archive serves: regenerated for the mirrored subset.

What apt 2.6 and debootstrap need from it (FIELD-NOTES.md):

- every index listed under its compressed names *and* its uncompressed name (apt skips an
  index it only finds compressed), with upstream's sizes and hashes;
- a ``SHA256:`` section first and an ``MD5Sum:`` section last, since debootstrap drops
  the last line of the Release it splits out of InRelease;
- ``Date`` in the form ``Sat, 01 Jun 2025 00:00:00 UTC``, no ``Valid-Until`` (a
  repoversion is valid for ever), ``Acquire-By-Hash: yes`` and
  ``Snapshots: <public_url>/v/@SNAPSHOTID@/<archive>/`` (apt appends ``dists/…`` to it
  directly, so the final slash matters).

And what apt >= 2.7 needs to use that ``Snapshots`` field for ``--snapshot ID``: an
``Origin`` or a ``Label`` (apt keys its snapshot settings by them, and finds no snapshot
server at all for a Release with neither). Upstream's are kept; a Release whose upstream
has neither gets ``Origin: repoversion`` and ``Label: <archive>`` (:func:`with_identity`,
see :mod:`repoversion.archive.snapshots`).

>>> text = render_release(
...     {"Origin": "Debian", "Suite": "stable", "Codename": "bookworm"},
...     {"main/binary-amd64/Packages": {"size": 3, "sha256": "a" * 64, "md5": "b" * 32}},
...     date=__import__("datetime").datetime(2025, 6, 1, tzinfo=__import__("datetime").UTC),
...     snapshots="http://h/v/@SNAPSHOTID@/debian/",
... ).decode()
>>> print(" ".join(text.split()))  # doctest: +NORMALIZE_WHITESPACE
Origin: Debian Suite: stable Codename: bookworm Date: Sun, 01 Jun 2025 00:00:00 UTC
Acquire-By-Hash: yes Architectures: amd64 Components: main
Snapshots: http://h/v/@SNAPSHOTID@/debian/
SHA256: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 3
main/binary-amd64/Packages MD5Sum: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 3 main/binary-amd64/Packages
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from repoversion.archive.compression import decompress, kind_from_path
from repoversion.archive.signing import Signer
from repoversion.archive.snapshots import served_identity
from repoversion.errors import RepoversionError
from repoversion.storage.base import BlobStore
from repoversion.timefmt import release_date

#: Upstream fields repeated, in Debian's order; the others are derived here.
_BEFORE_DATE = ("Origin", "Label", "Suite", "Version", "Codename", "Changelogs")
_AFTER_DATE = ("No-Support-for-Architecture-all",)
_INDEX_DIR = re.compile(r"^(?P<comp>.+?)/(?:binary-(?P<arch>[^/]+)|source|i18n)/")


def render_release(
    fields: Mapping[str, str],
    entries: Mapping[str, Mapping[str, Any]],
    *,
    date: datetime,
    snapshots: str,
) -> bytes:
    """The Release text for ``entries``.

    :param fields: upstream's fields (Origin, Label, Suite, Codename, Version,
        Description…); fields this module derives are ignored.
    :param entries: path → ``{"size", "sha256", "md5"}``: every file to list (served
        files and the uncompressed names); an entry without ``md5`` is left out of
        ``MD5Sum`` only.
    :param date: the Release's Date.
    :param snapshots: the ``Snapshots`` URL template.
    """
    archs: set[str] = set()
    comps: list[str] = []
    for path in sorted(entries):
        m = _INDEX_DIR.match(path)
        if m is None:
            continue
        if m["comp"] not in comps:
            comps.append(m["comp"])
        if m["arch"]:
            archs.add(m["arch"])
    if "main" in comps:
        comps.remove("main")
        comps.insert(0, "main")
    lines = [f"{k}: {fields[k]}" for k in _BEFORE_DATE if fields.get(k)]
    lines.append(f"Date: {release_date(date)}")
    lines.append("Acquire-By-Hash: yes")
    lines += [f"{k}: {fields[k]}" for k in _AFTER_DATE if fields.get(k)]
    if archs:  # a source-only mirror lists none, as Debian never lists "source"
        lines.append(f"Architectures: {' '.join(sorted(archs))}")
    lines.append(f"Components: {' '.join(comps)}")
    if fields.get("Description"):
        lines.append(f"Description: {fields['Description']}")
    lines.append(f"Snapshots: {snapshots}")
    lines.append("SHA256:")
    for path in sorted(entries):
        e = entries[path]
        lines.append(f" {e['sha256']} {e['size']:>16} {path}")
    lines.append("MD5Sum:")
    for path in sorted(entries):
        e = entries[path]
        if e.get("md5"):
            lines.append(f" {e['md5']} {e['size']:>16} {path}")
    return ("\n".join(lines) + "\n").encode()


def with_identity(fields: Mapping[str, str], archive: str) -> dict[str, str]:
    """Upstream's Release fields, given ``Origin: repoversion`` and ``Label: <archive>``
    when they have neither (apt finds no snapshot server for such a Release).

    >>> with_identity({"Suite": "stable"}, "fx")
    {'Suite': 'stable', 'Origin': 'repoversion', 'Label': 'fx'}
    >>> with_identity({"Origin": "Debian", "Label": "Debian-Security"}, "security")
    {'Origin': 'Debian', 'Label': 'Debian-Security'}

    :param fields: upstream's fields.
    :param archive: the archive's name.
    """
    origin, label = served_identity(fields.get("Origin", ""), fields.get("Label", ""), archive)
    out = dict(fields)
    out.update((k, v) for k, v in (("Origin", origin), ("Label", label)) if v)
    return out


def sign_release(signer: Signer, release: bytes) -> dict[str, bytes]:
    """``Release``, ``InRelease`` (clearsigned) and ``Release.gpg`` (detached) for a Release.

    :param signer: the server's key.
    :param release: the Release text.
    """
    return {
        "Release": release,
        "InRelease": signer.clearsign(release),
        "Release.gpg": signer.detach_sign(release),
    }


def complete_entries(
    entries: Mapping[str, Mapping[str, Any]],
    served: Mapping[str, Mapping[str, Any]],
    store: BlobStore,
) -> dict[str, dict[str, Any]]:
    """Every served file listed, each with an MD5 where one can be had.

    Upstream's entries normally carry everything; a served file missing from them is
    added, and an MD5 missing (an upstream Release without ``MD5Sum``) is computed from
    the stored bytes, decompressing a served variant for an uncompressed name.

    :param entries: upstream's entries (path → size, sha256, md5).
    :param served: the version's served files (path → sha256, size).
    :param store: the blob store.
    """
    out = {p: dict(e) for p, e in entries.items()}
    for path, ref in served.items():
        out.setdefault(path, {"size": ref["size"], "sha256": ref["sha256"], "md5": None})
    for path, e in out.items():
        if e.get("md5"):
            continue
        data = _bytes_of(path, e, served, store)
        if data is not None:
            e["md5"] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return out


def _bytes_of(
    path: str, entry: Mapping[str, Any], served: Mapping[str, Mapping[str, Any]], store: BlobStore
) -> bytes | None:
    ref = served.get(path)
    if ref is not None and store.exists(ref["sha256"]):
        return store.read_bytes(ref["sha256"])
    for other, ref in served.items():
        kind = kind_from_path(other)
        if kind and other.rsplit(".", 1)[0] == path and store.exists(ref["sha256"]):
            try:
                data = decompress(store.read_bytes(ref["sha256"]), kind, max_size=entry["size"])
            except RepoversionError:
                continue
            if hashlib.sha256(data).hexdigest() == entry["sha256"]:
                return data
    return None
