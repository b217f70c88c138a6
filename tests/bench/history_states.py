"""Upstream states for the history simulation (tests/bench/history.py): the corpus's
bookworm main amd64 index, changed by about 1 % per state, published on loopback.

Each state after the first changes ``fraction`` of the packages on average, counted in
binary packages: a few removals (packages no other package names in a relationship
field, so nothing depends on what goes) and as many additions (copies of a package under
a new name), the rest upgrades. An upgrade bumps a whole source package at once, as
Debian does: every binary built from it gets ``+rvK`` on its version (replacing an
earlier ``+rvJ``), a new pool file name and a fictitious SHA256 and size, and the ``(=
version)`` relations between those binaries follow, so apt can still install them. Each
source package is upgraded with the same chance, so each binary changes with that chance
(1 % in all on average; a state that picks one of the few sources with hundreds of
binaries changes more). Packages change again and again over many states (about ten
times each over a thousand), so a package's history grows too.

Three packages are special:

- the *hot* package (``hello``) is upgraded in every state, the longest history;
- the *sample* package points at a real 50 kB pool file written into the upstream tree
  (state 1 and the last state each have their own), so a pool request can be served
  from stored bytes (on demand: the first request fetches and verifies it);
- packages named in ``protected`` are never removed (what the benchmark resolves).

A state is published as ``Packages.gz`` (gzip -1, plus its ``by-hash`` name) and the
corpus Release with a later Date and the new entries, signed with a throwaway key
(tests/fixtures/gpg.py); Translation-en comes from the corpus unchanged.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import random
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tests.bench.common import CORPUS
from tests.bench.sync import _field, _name, _new_file, _release, _set
from tests.fixtures.gpg import GpgKey

SUITE = "bookworm"
PACKAGES = "main/binary-amd64/Packages"
SEED = 20261201
SAMPLE_BYTES = 50_000
HOT = b"hello"
_RELATION = re.compile(
    rb"^(?:Pre-Depends|Depends|Recommends|Suggests|Enhances|Breaks|Conflicts|Replaces"
    rb"|Provides): .*$",
    re.M,
)
_EXACT = re.compile(rb"([a-z0-9][a-z0-9+.\-]*)((?::[a-z0-9]+)?) \(= ([^)\s]+)\)")
_NAMES = re.compile(rb"(?:^|[,|]) *([a-z0-9][a-z0-9+.\-]*)", re.M)
_SUFFIX = re.compile(rb"\+rv\d+$")


@dataclass
class Churn:
    """What one state changed, counted as the sync counts: (name, architecture) keys."""

    upgraded: int = 0
    added: int = 0
    removed: int = 0


def _source(stanza: bytes, name: bytes) -> bytes:
    m = re.search(rb"^Source: (\S+)", stanza, re.M)
    return m.group(1) if m else name


def _referenced(stanzas: Iterable[bytes]) -> set[bytes]:
    """Every package name some relationship field names."""
    out: set[bytes] = set()
    for s in stanzas:
        for line in _RELATION.findall(s):
            out.update(_NAMES.findall(line.split(b": ", 1)[1]))
    return out


def _real_file(stanza: bytes, name: bytes, version: bytes, root: Path) -> bytes:
    """Point ``stanza`` at a real pool file of :data:`SAMPLE_BYTES` bytes written under
    ``root`` (the archive's directory) and return the new stanza."""
    arch = _field(stanza, b"Architecture")
    directory = _field(stanza, b"Filename").rsplit(b"/", 1)[0]
    plain = version.split(b":", 1)[-1]
    filename = directory + b"/" + name + b"_" + plain + b"_" + arch + b".deb"
    data = random.Random(filename).randbytes(SAMPLE_BYTES)
    path = root / filename.decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stanza = _set(stanza, b"Filename", filename)
    stanza = _set(stanza, b"Size", str(len(data)).encode())
    stanza = _set(stanza, b"MD5sum", hashlib.md5(data).hexdigest().encode())
    return _set(stanza, b"SHA256", hashlib.sha256(data).hexdigest().encode())


class Evolution:
    """The package list as it evolves from the corpus, one state at a time.

    :param archive_root: the upstream archive's directory (sample pool files go there).
    :param protected: names never removed.
    """

    def __init__(
        self, stanzas: list[bytes], archive_root: Path, fraction: float, protected: set[bytes]
    ) -> None:
        self.rng = random.Random(SEED)
        self.root = archive_root
        self.target = round(len(stanzas) * fraction)
        self.stanzas: dict[int, bytes] = dict(enumerate(stanzas))
        self.names: dict[int, bytes] = {i: _name(s) for i, s in self.stanzas.items()}
        self.groups: dict[bytes, list[int]] = {}
        for i, s in self.stanzas.items():
            self.groups.setdefault(_source(s, self.names[i]), []).append(i)
        self.group_of = {i: g for g, ids in self.groups.items() for i in ids}
        single = {g: ids[0] for g, ids in self.groups.items() if len(ids) == 1}
        self.hot = next((g for g, i in single.items() if self.names[i] == HOT), sorted(single)[0])
        used = _referenced(stanzas)
        by_name: dict[bytes, list[int]] = {}
        for i, n in self.names.items():
            by_name.setdefault(n, []).append(i)
        leaves = sorted(
            ids[0]
            for n, ids in by_name.items()
            if len(ids) == 1 and n not in used and n not in protected
        )
        self.sample_group = next(
            self.group_of[i] for i in leaves if self.group_of[i] in single
            and self.group_of[i] != self.hot
        )  # fmt: skip
        self.sample_id = single[self.sample_group]
        #: what may be removed or copied: never the hot or the sample package
        self.leaves = set(leaves) - {self.sample_id, single[self.hot]}
        self.next_id = len(stanzas)
        self.sample_files: list[str] = []
        self._point_sample_at_real_file()

    @property
    def hot_name(self) -> str:
        return self.names[self.groups[self.hot][0]].decode()

    def text(self) -> bytes:
        """The Packages index of the current state."""
        return b"\n\n".join(self.stanzas.values()) + b"\n"

    def advance(self, k: int, last: bool) -> Churn:
        """Derive state ``k`` from the current one; ``last`` also upgrades the sample."""
        churn = Churn()
        n_side = max(1, self.target // 100)
        # removals, then upgrades, then additions: no package counts twice
        for _ in range(n_side):
            self._remove(churn)
        budget = self.target - 2 * n_side - self._upgrade(self.hot, k, churn)
        if last:
            budget -= self._upgrade(self.sample_group, k, churn)
            self._point_sample_at_real_file()
        # each source package is upgraded with the same chance, so each binary is (as
        # many binaries change as the budget says, on average)
        special = (self.hot, self.sample_group)
        eligible = [g for g, ids in self.groups.items() if ids and g not in special]
        chance = budget / sum(len(self.groups[g]) for g in eligible)
        for g in eligible:
            if self.rng.random() < chance:
                self._upgrade(g, k, churn)
        for _ in range(n_side):
            self._add(k, churn)
        return churn

    def _upgrade(self, group: bytes, k: int, churn: Churn) -> int:
        """Bump every binary of source ``group``; returns how many stanzas changed."""
        ids = self.groups[group]
        tag = f"rv{k}"
        bumped: dict[tuple[bytes, bytes], bytes] = {}
        for i in ids:
            old = _field(self.stanzas[i], b"Version")
            bumped[(self.names[i], old)] = _SUFFIX.sub(b"", old) + b"+" + tag.encode()

        def exact(m: re.Match[bytes]) -> bytes:
            new = bumped.get((m[1], m[3]))
            return m[0] if new is None else m[1] + m[2] + b" (= " + new + b")"

        for i in ids:
            s, name = self.stanzas[i], self.names[i]
            new = bumped[(name, _field(s, b"Version"))]
            s = _RELATION.sub(lambda line: _EXACT.sub(exact, line[0]), _set(s, b"Version", new))
            self.stanzas[i] = _new_file(s, name, new, tag)
        churn.upgraded += len({self.names[i] for i in ids})
        return len(ids)

    def _remove(self, churn: Churn) -> None:
        if not self.leaves:
            return
        i = self.rng.choice(sorted(self.leaves))
        self.leaves.discard(i)
        self.groups[self.group_of.pop(i)].remove(i)
        del self.stanzas[i], self.names[i]
        churn.removed += 1

    def _add(self, k: int, churn: Churn) -> None:
        """A copy of a leaf package under a new name (itself a leaf, in the same group)."""
        origin = self.rng.choice(sorted(self.leaves))
        s = self.stanzas[origin]
        name = self.names[origin] + f"-rv{k}".encode()
        version = _field(s, b"Version")
        i = self.next_id
        self.next_id += 1
        self.stanzas[i] = _new_file(_set(s, b"Package", name), name, version, f"rv{k}")
        self.names[i] = name
        group = self.group_of[origin]
        self.groups[group].append(i)
        self.group_of[i] = group
        self.leaves.add(i)
        churn.added += 1

    def _point_sample_at_real_file(self) -> None:
        i = self.sample_id
        s = self.stanzas[i]
        self.stanzas[i] = _real_file(s, self.names[i], _field(s, b"Version"), self.root)
        self.sample_files.append(_field(self.stanzas[i], b"Filename").decode())


def corpus_stanzas() -> list[bytes]:
    """The stanzas of the corpus's bookworm main amd64 Packages."""
    xz = CORPUS / "debian" / "dists" / SUITE / f"{PACKAGES}.xz"
    if not xz.is_file():
        raise RuntimeError(f"no corpus at {xz} (REPOVERSION_BENCH_CORPUS)")
    return lzma.decompress(xz.read_bytes()).rstrip(b"\n").split(b"\n\n")


@dataclass
class Published:
    """One published state: its Packages.gz (served path, sha256, size)."""

    k: int
    gz_sha256: str
    gz_size: int


class Upstream:
    """The upstream archive directory (``<root>/debian``), rewritten for each state.

    :param root: the document root of the loopback server.
    :param key: signs every Release (InRelease and Release.gpg).
    """

    def __init__(self, root: Path, key: GpgKey) -> None:
        self.archive = root / "debian"
        self.dists = self.archive / "dists" / SUITE
        self.binary = self.dists / "main" / "binary-amd64"
        (self.binary / "by-hash" / "SHA256").mkdir(parents=True)
        corpus = CORPUS / "debian" / "dists" / SUITE
        shutil.copy(corpus / "main" / "binary-amd64" / "Release", self.binary / "Release")
        (self.dists / "main" / "i18n").symlink_to((corpus / "main" / "i18n").resolve())
        self.template = (corpus / "Release").read_text()
        date = re.search(r"^Date: (.*)$", self.template, re.M)
        if date is None:
            raise RuntimeError(f"{corpus / 'Release'} has no Date")
        self.base_date = datetime.strptime(date.group(1), "%a, %d %b %Y %H:%M:%S UTC")
        self.key = key
        self.current: Published | None = None

    def publish(self, k: int, text: bytes) -> Published:
        """Write state ``k``: Packages.gz, its by-hash name, the signed Release files."""
        gz = gzip.compress(text, compresslevel=1, mtime=0)
        sha_gz = hashlib.sha256(gz).hexdigest()
        by_hash = self.binary / "by-hash" / "SHA256" / sha_gz
        by_hash.write_bytes(gz)
        tmp = self.binary / "Packages.gz.new"
        tmp.write_bytes(gz)
        tmp.replace(self.binary / "Packages.gz")
        files = {
            PACKAGES: (hashlib.md5(text).hexdigest(), hashlib.sha256(text).hexdigest(), len(text)),
            f"{PACKAGES}.gz": (hashlib.md5(gz).hexdigest(), sha_gz, len(gz)),
        }
        release = _release(self.template, self.base_date + timedelta(minutes=5 * k), files)
        # only the .gz is published: the Release does not list the corpus's .xz
        release = "".join(
            line for line in release.splitlines(keepends=True)
            if not line.rstrip().endswith(f" {PACKAGES}.xz")
        )  # fmt: skip
        data = release.encode()
        (self.dists / "Release").write_bytes(data)
        (self.dists / "Release.gpg").write_bytes(self.key.detach_sign(data))
        (self.dists / "InRelease").write_bytes(self.key.clearsign(data))
        previous, self.current = self.current, Published(k, sha_gz, len(gz))
        if previous is not None and previous.gz_sha256 != sha_gz:
            (self.binary / "by-hash" / "SHA256" / previous.gz_sha256).unlink(missing_ok=True)
        return self.current
