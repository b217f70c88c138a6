"""Checking a written export as apt would, from the bytes on disk.

Every file is read back and hashed. Each suite's Release is verified with the key that
signs it (this server's for ``signed`` archives, the archive's keyring for ``verbatim``
ones); every index file and ``by-hash`` name must be listed by that Release with the same
SHA-256 and size; every pool file must be listed by a Packages or Sources index of the
tree with the same SHA-256 and size. The tree must hold exactly the planned files: nothing
missing, nothing more. Any difference fails the export (:class:`ExportFailed`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from repoversion.archive.compression import decompress, kind_from_path
from repoversion.archive.indices import parse_packages, parse_sources
from repoversion.archive.release import Release, parse_release
from repoversion.archive.verify import verify_signed_release
from repoversion.errors import RepoversionError
from repoversion.export.plan import ExportPlan, SuitePlan
from repoversion.export.tree import LAST
from repoversion.serving.lookup import RELEASE_NAMES, Listing, signed_text
from repoversion.storage.base import BlobRef
from repoversion.versions.snapshot import scope_of

Progress = Callable[[str, int, int], None]
_CHUNK = 1 << 20
#: problems named in the error message (all of them go to the log of the caller)
_SHOWN = 3


class ExportFailed(RepoversionError):
    """The written tree is not what the version serves; it was removed."""

    code = "export_failed"
    status = 500


@dataclass
class Checked:
    """What the check read: every file's digest, and where each was listed.

    :ivar digests: path below the root → its bytes' digest and size.
    :ivar releases: ``<archive>/dists/<suite>/`` → the served Release, parsed.
    :ivar listed_by: pool path → the index file of the tree that lists it.
    """

    digests: dict[str, BlobRef] = field(default_factory=dict)
    releases: dict[str, Release] = field(default_factory=dict)
    listed_by: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_tree(
    root: Path,
    plan: ExportPlan,
    server_keyring: bytes,
    *,
    max_index_size: int,
    progress: Progress | None = None,
) -> Checked:
    """Check the tree under ``root`` against itself and the plan.

    :param root: the export's root (``provenance/`` is not looked at).
    :param plan: what was written.
    :param server_keyring: this server's public key (binary), for ``signed`` Releases.
    :param max_index_size: the largest decompressed index accepted.
    :param progress: ``progress("verify", done, total)`` as files are hashed.
    :raises ExportFailed: anything differs.
    """
    out = Checked()
    _hash_all(root, plan, out, progress)
    listed: dict[str, dict[BlobRef, str]] = {}
    for suite in plan.suites:
        keyring = server_keyring if suite.mode != "verbatim" else plan.keyrings.get(suite.archive)
        release = _suite_release(root, suite, keyring, out.problems)
        if release is None:
            continue
        out.releases[suite.prefix] = release
        _check_indices(suite, release, out)
        for path in _pool_indices(suite):
            _list_pool(root / path, path, suite.archive, max_index_size, listed, out.problems)
    _check_pool(plan, listed, out)
    if out.problems:
        raise ExportFailed(describe(out.problems, "The exported tree did not verify"))
    return out


def describe(problems: list[str], what: str) -> str:
    """One sentence naming the first problems."""
    shown = "; ".join(p.rstrip(".") for p in problems[:_SHOWN])
    more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    return f"{what}: {shown}{more}; nothing was exported."


def _hash_all(root: Path, plan: ExportPlan, out: Checked, progress: Progress | None) -> None:
    on_disk = sorted(_files(root))
    expected = {i.path for i in plan.items}
    out.problems += [f"{p} is missing" for p in sorted(expected - set(on_disk))]
    out.problems += [f"{p} was not planned" for p in on_disk if p not in expected]
    seen: dict[tuple[int, int], BlobRef] = {}  # hard links (by-hash names) hashed once
    for done, rel in enumerate(on_disk, 1):
        path = root / rel
        st = path.stat()
        ref = seen.get((st.st_dev, st.st_ino))
        if ref is None:
            ref = seen[(st.st_dev, st.st_ino)] = _digest(path)
        out.digests[rel] = ref
        if progress is not None:
            progress("verify", done, len(on_disk))


def _files(root: Path) -> list[str]:
    found: list[str] = []
    for top, dirs, files in os.walk(root):
        rel = Path(top).relative_to(root).as_posix()
        if rel == ".":
            dirs[:] = [d for d in dirs if d != LAST]
            rel = ""
        found += [f"{rel}/{f}" if rel else f for f in files]
    return found


def _digest(path: Path) -> BlobRef:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return BlobRef(h.hexdigest(), size)


def _suite_release(
    root: Path, suite: SuitePlan, keyring: bytes | None, problems: list[str]
) -> Release | None:
    """The suite's served Release, checked against its signatures (when a key is known)."""
    names = {i.path[len(suite.prefix) :] for i in suite.items} & set(RELEASE_NAMES)
    data = {n: (root / (suite.prefix + n)).read_bytes() for n in names}
    what = f"{suite.prefix}InRelease"
    try:
        text = signed_release_text(data, keyring, what)
        return parse_release(text, what) if text is not None else None
    except RepoversionError as exc:
        problems.append(f"{suite.prefix}: {exc.message}")
        return None


def signed_release_text(
    files: Mapping[str, bytes], keyring: bytes | None, what: str
) -> bytes | None:
    """The Release text ``InRelease``/``Release``/``Release.gpg`` carry, every signature
    given checked with ``keyring`` (none is checked without one).

    :param files: name → bytes, for the names present.
    :raises RepoversionError: a signature does not verify, or Release differs from
        InRelease's signed text.
    """
    text: bytes | None = None
    if "InRelease" in files:
        inrelease = files["InRelease"]
        if keyring is None:
            text = signed_text(inrelease)
        else:
            text = verify_signed_release(keyring, inrelease=inrelease, what=what).content
    if "Release" in files:
        if text is not None and files["Release"] != text:
            raise ExportFailed(f"{what}: Release is not the text InRelease signs.")
        text = files["Release"]
        if "Release.gpg" in files and keyring is not None:
            verify_signed_release(
                keyring, release=text, release_gpg=files["Release.gpg"], what=what
            )
    return text


def _check_indices(suite: SuitePlan, release: Release, out: Checked) -> None:
    listing = Listing.of(release.files)
    for item in suite.items:
        sub = item.path[len(suite.prefix) :]
        if sub in RELEASE_NAMES:
            continue
        entry = listing.files.get(sub) or listing.files.get(listing.by_hash.get(sub, ""))
        got = out.digests.get(item.path)
        if entry is None:
            out.problems.append(f"{item.path} is not listed by its Release")
        elif got is not None and (got.sha256, got.size) != (entry.sha256, entry.size):
            out.problems.append(
                f"{item.path} has sha256 {got.sha256}, its Release says {entry.sha256}"
            )


def _pool_indices(suite: SuitePlan) -> list[str]:
    """The Packages and Sources files of the suite (not their ``by-hash`` names)."""
    return [
        i.path
        for i in suite.items
        if i.same_as is None and scope_of(i.path[len(suite.prefix) :]) is not None
    ]


def _list_pool(
    path: Path,
    rel: str,
    archive: str,
    max_size: int,
    listed: dict[str, dict[BlobRef, str]],
    problems: list[str],
) -> None:
    """Add the pool files a Packages or Sources index lists: path → {digest: index}."""
    try:
        with path.open("rb") as f:
            data = decompress(f, kind_from_path(rel), max_size=max_size, what=rel)
        if rel.rsplit("/", 1)[-1].startswith("Sources"):
            files = [
                (f"{p.directory}/{s.name}", BlobRef(s.sha256, s.size))
                for p in parse_sources(data, rel)
                for s in p.files
            ]
        else:
            files = [(p.filename, BlobRef(p.sha256, p.size)) for p in parse_packages(data, rel)]
    except RepoversionError as exc:
        problems.append(exc.message)
        return
    for name, ref in files:
        pool_path = f"{archive}/{name.removeprefix('./')}"
        listed.setdefault(pool_path, {}).setdefault(BlobRef(ref.sha256.lower(), ref.size), rel)


def _check_pool(plan: ExportPlan, listed: dict[str, dict[BlobRef, str]], out: Checked) -> None:
    for item in plan.pool:
        got = out.digests.get(item.path)
        if got is None:
            continue  # already reported missing
        options = listed.get(item.path)
        if not options:
            out.problems.append(f"{item.path} is not listed by any index of the export")
        elif got not in options:
            want = ", ".join(sorted(r.sha256 for r in options))
            out.problems.append(f"{item.path} has sha256 {got.sha256}, its index says {want}")
        else:
            out.listed_by[item.path] = options[got]
    if not plan.lockfile:
        absent = [p for p in listed if p.split("/", 1)[1].startswith("pool/")]
        absent = [p for p in absent if p not in out.digests]
        out.problems += [f"{p} is listed by an index but missing" for p in sorted(absent)]
