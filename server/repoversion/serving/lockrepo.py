"""A stored lockfile as an apt repository: ``/l/<id>/<archive>/{dists,pool}/…`` (SPEC section 3).

A lockfile is stored once, as a blob of its canonical bytes (SPEC section 2's canonical
JSON and a final newline) named by a ``derived`` row keyed ``lockfile/<id>``, where
``id`` is the sha256 of its canonical JSON: the same lockfile has the same id on every
node. Its repository is generated from it and the version it names, once, as the blobs of
a ``derived`` row keyed ``lockrepo/<id>`` (:mod:`.derived`), so every node serves the
same bytes for ever:

- per archive, suite and component holding locked packages,
  ``<component>/binary-<arch>/Packages`` (and ``.gz``): the locked packages' stanzas,
  byte for byte as the version's own Packages (or ``binary-all`` Packages) list them, so
  apt sees the metadata it would see under ``/v/``; nothing else;
- per suite, a Release over them (:func:`.release.render_release`) dated when the version
  was created, with upstream's Suite, Version and Codename (``PKG/SUITE`` works as under
  ``/v/``), signed by the server's key. ``apt --snapshot ID`` (apt >= 2.7) must leave such
  a source as it is: its ``Snapshots: no`` says so, and its own Origin and Label
  (:data:`ORIGIN`, :data:`LABEL`) keep apt's ``Acquire::Snapshots::URI::Override::…``
  settings, which come first and are keyed by upstream's (apt ships one for
  ``Label: Debian-Security``), from sending it anywhere else;
- the locked entries' pool files, from storage, fetched through from upstream on first
  request exactly as ``/v/<version>/`` does.

apt pointed only at ``/l/<id>/`` can install nothing the lockfile does not name.

>>> index = (b"Package: a\\nVersion: 1\\nArchitecture: all\\n\\n"
...          b"Package: b\\nVersion: 2\\nArchitecture: amd64\\nSHA256: ff\\n")
>>> pick_stanzas(index, {("b", "2", "amd64")})
{('b', '2', 'amd64'): b'Package: b\\nVersion: 2\\nArchitecture: amd64\\nSHA256: ff\\n'}
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repoversion.archive.compression import kind_from_path
from repoversion.archive.decoding import start_decoding
from repoversion.context import Context
from repoversion.errors import InvalidInput, NotFound
from repoversion.resolve import lockfile
from repoversion.resolve.tree import ListFile, TreeSource, canonical_json, plan_sources
from repoversion.serving.cache import LRU
from repoversion.serving.derived import Blobs, Derived
from repoversion.serving.release import render_release, sign_release
from repoversion.serving.target import Target
from repoversion.storage.base import BlobRef, BlobStore
from repoversion.timefmt import utc
from repoversion.versions.refs import Resolved, read_index

if TYPE_CHECKING:
    from repoversion.db.models import Repoversion
    from repoversion.serving.service import Serving

#: a lockfile's id: the sha256 of its canonical JSON
ID_RE = re.compile(r"[0-9a-f]{64}")
#: the name of the lockfile's blob in its ``derived`` row
LOCKFILE = "lockfile.json"
#: what a Release of a lockfile's repository says about snapshots: there are none
NO_SNAPSHOTS = "no"
#: the Origin and Label of a lockfile's repository, which no snapshot setting names
ORIGIN, LABEL = "repoversion", "repoversion-lockfile"
#: (name, version, architecture) of a locked package
Key = tuple[str, str, str]
#: lockfiles (with their repositories) each process keeps parsed
CACHED = 256


def lockfile_id(lock: Mapping[str, Any]) -> str:
    """The id of a (checked) lockfile: the sha256 of its canonical JSON."""
    return hashlib.sha256(canonical_json(lock)).hexdigest()


def check_id(lock_id: str) -> str:
    """``lock_id`` if it has the form of an id.

    :raises NotFound: it cannot name a lockfile.
    """
    if not ID_RE.fullmatch(lock_id):
        raise NotFound(f"No lockfile {lock_id[:100]!r}: an id is 64 hexadecimal digits.")
    return lock_id


def layout(lock: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(archive, suite) → components that hold locked packages, ``main`` first."""
    found: dict[tuple[str, str], set[str]] = {}
    for p in lock["packages"]:
        found.setdefault((p["archive"], p["suite"]), set()).add(p["component"])
    return {
        key: sorted(comps, key=lambda c: (c != "main", c)) for key, comps in sorted(found.items())
    }


def derived_of(ctx: Context) -> Derived:
    """The generated blobs of ``ctx``'s home (as :class:`~.service.Serving` keeps them)."""
    s = ctx.settings
    return Derived(ctx.store, s.home / "cache" / "derived", lambda: ctx.sessions, s.clock)


def store(ctx: Context, derived: Derived, lock: Mapping[str, Any], version: Repoversion) -> str:
    """Store a lockfile and generate its repository (once: both are reused after).

    :param lock: the checked lockfile, every entry held by ``version``.
    :param version: the version it names.
    :returns: its id.
    :raises InvalidInput: an entry is not listed as locked in the version's Packages.
    """
    lock_id = lockfile_id(lock)
    # the repository first: a lockfile it cannot be made for is not stored either
    repo(ctx, derived, lock_id, lock, version)
    derived.get(f"lockfile/{lock_id}", lambda: {LOCKFILE: lockfile.canonical(lock)})
    return lock_id


def stored(derived: Derived, lock_id: str) -> BlobRef:
    """The blob of the lockfile stored as ``lock_id``.

    :raises NotFound: none is.
    """
    key = f"lockfile/{check_id(lock_id)}"
    # Read, never generated: Derived.get would leave a lock file behind for every id
    # anyone makes up. The row's name is Derived's (the sha256 of its key).
    found = derived._read(hashlib.sha256(key.encode()).hexdigest())
    if found is None:
        raise NotFound(f"No lockfile {lock_id} is stored here.")
    return found[LOCKFILE]


def repo(
    ctx: Context, derived: Derived, lock_id: str, lock: Mapping[str, Any], version: Repoversion
) -> Blobs:
    """The files of the lockfile's repository, ``<archive>/<suite>/<path>`` → blob."""
    return derived.get(f"lockrepo/{lock_id}", lambda: generate(ctx, lock, version))


def generate(ctx: Context, lock: Mapping[str, Any], version: Repoversion) -> dict[str, bytes]:
    """Generate the repository's dists files (see the module docstring).

    :raises InvalidInput: a locked package is not listed in its suite and component.
    """
    arch = lock["architecture"]
    sources = {(s.archive, s.suite): s for s in plan_sources(read_index(ctx.store, version), arch)}
    wanted: dict[tuple[str, str, str], dict[Key, Mapping[str, Any]]] = {}
    for p in lock["packages"]:
        place = (p["archive"], p["suite"], p["component"])
        wanted.setdefault(place, {})[(p["name"], p["version"], p["architecture"])] = p
    out: dict[str, bytes] = {}
    for (archive, suite), comps in layout(lock).items():
        src = sources.get((archive, suite))
        if src is None:
            raise InvalidInput(
                f"Repoversion {version.version} serves no {arch} Packages for {archive}/{suite}."
            )
        indices: dict[str, bytes] = {}
        for comp in comps:
            data = _packages(ctx, src, comp, wanted[(archive, suite, comp)], arch)
            indices[f"{comp}/binary-{arch}/Packages"] = data
            indices[f"{comp}/binary-{arch}/Packages.gz"] = gzip.compress(data, mtime=0)
        entries = {path: _entry(data) for path, data in indices.items()}
        fields = {**dict(src.release_fields), "Origin": ORIGIN, "Label": LABEL}
        date = utc(version.created)
        text = render_release(fields, entries, date=date, snapshots=NO_SNAPSHOTS)
        for name, data in {**indices, **sign_release(ctx.signer, text)}.items():
            out[f"{archive}/{suite}/{name}"] = data
    return out


def _entry(data: bytes) -> dict[str, Any]:
    return {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
    }


def _packages(
    ctx: Context, src: TreeSource, comp: str, entries: Mapping[Key, Mapping[str, Any]], arch: str
) -> bytes:
    """The Packages of one component: the locked stanzas, in the lockfile's order."""
    found: dict[Key, bytes] = {}
    # the architecture's own index first, then binary-all's (what apt lists them in too)
    lists = sorted((lf for lf in src.lists if lf.component == comp), key=lambda lf: lf.arch != arch)
    for lf in lists:
        what = f"{src.archive}/dists/{src.suite}/{lf.path}"
        data = _decoded(ctx.store, lf, what, ctx.settings.max_index_size)
        for key, stanza in pick_stanzas(data, set(entries) - set(found)).items():
            found[key] = stanza
    for key, entry in entries.items():
        _check_stanza(found.get(key), entry, f"{src.archive}/{src.suite}/{comp}")
    order = sorted(entries, key=lambda k: (k[0], k[2], k[1]))
    return b"\n".join(found[key] for key in order)


def _check_stanza(stanza: bytes | None, entry: Mapping[str, Any], where: str) -> None:
    what = f"{entry['name']} {entry['version']} ({entry['architecture']})"
    if stanza is None:
        raise InvalidInput(f"{what} is not listed in {where} of the lockfile's repoversion.")
    listed = (_field(stanza, b"Filename"), _field(stanza, b"SHA256").lower())
    if listed != (entry["filename"], entry["sha256"]):
        raise InvalidInput(
            f"{what} is listed in {where} as {listed[0]} with sha256 {listed[1]}, not as the "
            f"lockfile says ({entry['filename']}, {entry['sha256']})."
        )


def _decoded(store: BlobStore, lf: ListFile, what: str, max_size: int) -> bytes:
    data = store.read_bytes(lf.blob.sha256)
    kind = kind_from_path(lf.path)
    if not kind:
        return data
    decoding = start_decoding(data, kind, max_size=max_size, what=what)
    try:
        return b"".join(decoding)
    finally:
        decoding.close()


def pick_stanzas(index: bytes, keys: Collection[Key]) -> dict[Key, bytes]:
    """The stanzas of a Packages index listing ``keys``, byte for byte (each with its final
    newline, without the blank line that separates it from the next); the first of each."""
    names = sorted({key[0] for key in keys})
    if not names:
        return {}
    alternatives = b"|".join(re.escape(name.encode()) for name in names)
    package = re.compile(rb"^Package:[ \t]*(" + alternatives + rb")[ \t]*$", re.M)
    out: dict[Key, bytes] = {}
    for m in package.finditer(index):
        # a stanza runs from the blank line before its Package field to the next one
        start = index.rfind(b"\n\n", 0, m.start())
        start = 0 if start < 0 else start + 2
        end = index.find(b"\n\n", m.end())
        stanza = index[start : len(index) if end < 0 else end].rstrip(b"\n") + b"\n"
        key = (m[1].decode(), _field(stanza, b"Version"), _field(stanza, b"Architecture"))
        if key in keys and key not in out:
            out[key] = stanza
    return out


def _field(stanza: bytes, name: bytes) -> str:
    m = re.search(rb"^" + name + rb":[ \t]*(\S+)", stanza, re.M)
    return m[1].decode() if m else ""


@dataclass(frozen=True)
class Locked:
    """A stored lockfile with its repository, as ``/l/<id>/`` serves it.

    :ivar files: ``<archive>/<suite>/<path>`` → blob, ``by-hash`` names included.
    :ivar pool: (archive, pool path) → blob of each locked package.
    """

    lock: Mapping[str, Any]
    files: Mapping[str, BlobRef]
    pool: Mapping[tuple[str, str], BlobRef]

    @classmethod
    def of(cls, lock: Mapping[str, Any], blobs: Mapping[str, BlobRef]) -> Locked:
        files = dict(blobs)
        for path, ref in blobs.items():
            if "/binary-" in path:  # an index, also fetched by hash
                files[f"{path.rsplit('/', 1)[0]}/by-hash/SHA256/{ref.sha256}"] = ref
        pool = {
            (p["archive"], p["filename"]): BlobRef(p["sha256"], p["size"]) for p in lock["packages"]
        }
        return cls(lock, files, pool)


class LockRepos:
    """Answers ``/l/<id>/…`` in one process, on its :class:`~.service.Serving`."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self._locked: LRU[str, Locked] = LRU(CACHED)

    def target(self, lock_id: str, archive: str, rest: str) -> tuple[Resolved, Target]:
        """What ``/l/<id>/<archive>/<rest>`` serves, and the version it comes from (for
        fetch-through).

        :raises NotFound: no such lockfile, or no such file in its repository.
        :raises Gone: the lockfile's version was deleted.
        """
        check_id(lock_id)
        lock = self._lockfile(lock_id)
        resolved = self.serving.resolve(lock["repoversion"])
        locked = self._locked.get(lock_id)
        if locked is None:
            ctx = self.serving.ctx
            blobs = repo(ctx, self.serving.derived, lock_id, lock, resolved.version)
            locked = Locked.of(lock, blobs)
            self._locked.put(lock_id, locked)
        kind, _, path = rest.partition("/")
        if kind == "dists" and path:
            ref = locked.files.get(f"{archive}/{path}")
            if ref is not None:
                return resolved, Target(ref.sha256, ref.size, path.rsplit("/", 1)[-1])
        elif kind == "pool" and path:
            ref = locked.pool.get((archive, rest))
            if ref is not None:
                name = rest.rsplit("/", 1)[-1]
                return resolved, Target(ref.sha256, ref.size, name, archive, (rest,))
        raise NotFound(f"{archive}/{rest} is not in lockfile {lock_id}.")

    def _lockfile(self, lock_id: str) -> Mapping[str, Any]:
        cached = self._locked.get(lock_id)
        if cached is not None:
            return cached.lock
        ref = stored(self.serving.derived, lock_id)
        lock: Mapping[str, Any] = json.loads(self.serving.store.read_bytes(ref.sha256))
        return lock
