"""Sync benchmark: repoversion against ``aptly mirror update`` on the same loopback upstream.

Measured in one run (see docs/benchmarks.md):

1. first sync of the corpus's bookworm main amd64 (63,440 packages), ``on_demand``, against
   ``aptly mirror update`` with a filter that matches no package (both fetch and parse the
   same Packages.xz, neither downloads pool files): wall time and peak RSS of each child,
   and repoversion's in-process time of ``run_sync`` alone (start-up excluded);
2. an unchanged re-sync;
3. a 1 %-churn re-sync (about 0.33 % removed, 0.33 % upgraded, 0.33 % added), against the
   first sync, aptly alongside;
4. database growth over successive 1 %-churn versions (cumulative, different packages
   each round): SQLite file size after a WAL checkpoint, never after a VACUUM;
5. then the sources benchmark (tests/bench/sources.py: a first sync of main with amd64,
   arm64 and Sources against ``aptly mirror update -with-sources``), unless the runner
   lists it as a module of its own; ``--sources-only`` runs just that one,
   ``--no-sources`` skips it.

Upstream states after the corpus are derived from it, written as ``Packages.xz`` like
Debian's (24 MiB blocks; the churn state of step 3 with ``xz -6``; the growth states with
``xz -0``, which only changes how long the benchmark spends compressing) and signed with a throwaway
GnuPG key; every keyring (repoversion's archive, aptly's ``-keyring``) holds Debian's keys
and that key from the start.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import lzma
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bench import sources
from tests.bench.common import (
    CORPUS,
    DEBIAN_KEYRING,
    Measured,
    Row,
    Signer,
    StaticServer,
    cache_root,
    fmt_mb,
    fmt_s,
    print_table,
    run_measured,
    scratch,
    timed,
    venv_bin,
)

NAME = "sync"
NOW = "2026-11-25T00:00:00Z"
SUITE = "bookworm"
PACKAGES = "main/binary-amd64/Packages"
SEED = 20261125
XZ_BLOCK = 24 << 20

# Targets (issue 3, "Done when").
FIRST_RATIO_MAX = 1.0
UNCHANGED_MAX_S = 0.3
CHURN_FRACTION_MAX = 0.25
GROWTH_MAX_PCT = 5.0

# The in-process sync: run_sync alone between two perf_counter() calls; the interpreter's
# start-up and the imports are reported apart. argv: home [profile-output].
RUNNER = r"""
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.mirror.sync import run_sync
t1 = time.perf_counter()
ctx = Context(load_settings(Path(sys.argv[1])))
prof = sys.argv[2] if len(sys.argv) > 2 else ""
if prof:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
t2 = time.perf_counter()
result = run_sync(ctx)
t3 = time.perf_counter()
if prof:
    profiler.disable()
    profiler.dump_stats(prof)
ctx.close()
print(json.dumps({"imports": t1 - t0, "sync": t3 - t2, **result.to_json()}))
"""


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--sync-repeat",
        type=int,
        default=int(os.environ.get("REPOVERSION_BENCH_REPEAT", "3")),
        help="fresh homes/mirrors per measurement; medians are reported (default 3)",
    )
    group.add_argument(
        "--sync-rounds",
        type=int,
        default=20,
        help="1%%-churn versions for the database growth measurement (default 20)",
    )
    group.add_argument(
        "--sync-profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="cProfile the in-process sync of a missed target (auto), of every kind, or none",
    )
    sources.add_arguments(group)


# -- upstream states ----------------------------------------------------------------------
@dataclass
class State:
    index: int
    root: Path  # served as the upstream's document root: root/debian/dists/bookworm/…
    packages: int
    removed: int = 0
    upgraded: int = 0
    added: int = 0


def _field(stanza: bytes, name: bytes) -> bytes:
    m = re.search(rb"^" + name + rb": *(.*)$", stanza, re.M)
    if m is None:
        raise ValueError(f"stanza without {name!r}: {stanza[:80]!r}")
    return m.group(1)


def _set(stanza: bytes, name: bytes, value: bytes) -> bytes:
    out, n = re.subn(
        rb"^" + name + rb":.*$", lambda _m: name + b": " + value, stanza, count=1, flags=re.M
    )
    if n != 1:
        raise ValueError(f"stanza without {name!r}: {stanza[:80]!r}")
    return out


def _name(stanza: bytes) -> bytes:
    # Debian writes Package first in every stanza.
    return stanza[9 : stanza.index(b"\n")] if stanza.startswith(b"Package: ") else b""


def _new_file(stanza: bytes, name: bytes, version: bytes, tag: str) -> bytes:
    """Point the stanza at a different (fictitious) pool file for ``name`` ``version``."""
    arch = _field(stanza, b"Architecture")
    directory = _field(stanza, b"Filename").rsplit(b"/", 1)[0]
    plain = version.split(b":", 1)[-1]
    filename = directory + b"/" + name + b"_" + plain + b"_" + arch + b".deb"
    seed = f"{tag} {filename.decode()}".encode()
    size = int(_field(stanza, b"Size")) + 1 + len(tag)
    stanza = _set(stanza, b"Filename", filename)
    stanza = _set(stanza, b"Size", str(size).encode())
    stanza = _set(stanza, b"MD5sum", hashlib.md5(seed).hexdigest().encode())
    return _set(stanza, b"SHA256", hashlib.sha256(seed).hexdigest().encode())


class Churner:
    """Derives each state from the previous one; never touches a package twice."""

    def __init__(self, stanzas: list[bytes], fraction: float) -> None:
        self.rng = random.Random(SEED)
        counts = Counter(_name(s) for s in stanzas)
        # Names with a single stanza (a few, like linux-doc, have two versions).
        self.pool = sorted(n for n, c in counts.items() if c == 1 and n)
        self.rng.shuffle(self.pool)
        self.origins = list(self.pool)
        self.gone: set[bytes] = set()
        self.fraction = fraction

    def derive(self, stanzas: list[bytes], k: int) -> tuple[list[bytes], tuple[int, int, int]]:
        change = round(len(stanzas) * self.fraction)
        n_rm, n_up = change // 3, change // 3
        n_add = change - n_rm - n_up
        if len(self.pool) < n_rm + n_up:
            raise RuntimeError("the corpus has run out of untouched packages")
        remove = {self.pool.pop() for _ in range(n_rm)}
        upgrade = {self.pool.pop() for _ in range(n_up)}
        self.gone |= remove
        taken = self.gone | upgrade
        clone = set(self.rng.sample([n for n in self.origins if n not in taken], n_add))
        tag = f"rv{k}"
        out: list[bytes] = []
        for s in stanzas:
            name = _name(s)
            if name in remove:
                continue
            if name in upgrade:
                version = _field(s, b"Version") + b"+" + tag.encode()
                s = _new_file(_set(s, b"Version", version), name, version, tag)
            out.append(s)
            if name in clone:
                new = name + b"-" + tag.encode()
                copy = _set(s, b"Package", new)
                out.append(_new_file(copy, new, _field(s, b"Version"), tag))
        return out, (n_rm, n_up, n_add)


def _release(template: str, date: datetime, files: dict[str, tuple[str, str, int]]) -> str:
    """The corpus Release with a new Date and new entries for ``files`` (md5, sha256, size).

    Every other field and entry is kept as upstream wrote it: the tools fetch only what
    they are configured for (the listed but absent ``Packages.gz`` stays listed, so both
    tools try it and fall back to ``.xz`` exactly as on the corpus).
    """
    out: list[str] = []
    section = ""
    for line in template.splitlines():
        if not line.startswith(" "):
            section = line.split(":", 1)[0]
            if section == "Date":
                line = "Date: " + date.strftime("%a, %d %b %Y %H:%M:%S UTC")
            out.append(line)
            continue
        parts = line.split()
        if section in ("MD5Sum", "SHA256") and len(parts) == 3 and parts[2] in files:
            md5, sha, size = files[parts[2]]
            line = f" {md5 if section == 'MD5Sum' else sha} {size:8d} {parts[2]}"
        out.append(line)
    return "\n".join(out) + "\n"


def _cache_dir(corpus_xz: bytes, fraction: float) -> Path | None:
    """``$REPOVERSION_BENCH_CACHE`` (``off`` disables), else ``~/.cache/repoversion-bench``.

    One subdirectory per key (corpus index, this file, churn fraction); others are removed.
    """
    root = cache_root()
    if root is None:
        return None
    key = hashlib.sha256(
        hashlib.sha256(corpus_xz).digest() + Path(__file__).read_bytes() + repr(fraction).encode()
    ).hexdigest()[:16]
    if root.is_dir():
        for old in root.iterdir():
            if old.is_dir() and old.name.startswith("states-") and old.name != f"states-{key}":
                shutil.rmtree(old, ignore_errors=True)
    return root / f"states-{key}"


class Upstreams:
    """The corpus copy (state 0) and the derived, signed states 1…n."""

    def __init__(self, base: Path, rounds: int, fraction: float = 0.01) -> None:
        self.base = base
        self.rounds = rounds
        self.fraction = fraction
        self.signer = Signer(base / "gnupg", base / "keyring.gpg")
        self.keyring = self.signer.keyring
        self.states: list[State] = []
        self.cache: Path | None = None
        self.log = ""

    def prepare(self) -> None:
        self.signer.create(DEBIAN_KEYRING.read_bytes())

        src = CORPUS / "debian"
        state0 = self.base / "state00"
        shutil.copytree(src, state0 / "debian", symlinks=True)
        dists0 = state0 / "debian" / "dists" / SUITE
        self.template = (dists0 / "Release").read_text()
        date = re.search(r"^Date: (.*)$", self.template, re.M)
        if date is None:
            raise RuntimeError(f"{dists0 / 'Release'} has no Date")
        self.base_date = datetime.strptime(date.group(1), "%a, %d %b %Y %H:%M:%S UTC")
        corpus_xz = (dists0 / f"{PACKAGES}.xz").read_bytes()
        self.cache = _cache_dir(corpus_xz, self.fraction)

        cached = self._from_cache()
        if cached is not None:
            self.states = cached
            self.log = f"derived states read from the cache {self.cache}"
            return
        data = lzma.decompress(corpus_xz)
        stanzas = data.rstrip(b"\n").split(b"\n\n")
        del data
        self.states.append(State(0, state0, len(stanzas)))
        churner = Churner(stanzas, self.fraction)

        # State 1 (the churn re-sync) gets Debian's xz -6 (20-27 s here); states 2…n are
        # compressed with xz -0 meanwhile.
        def make(k: int, st: list[bytes], preset: int, counts: tuple[int, int, int]) -> State:
            text = b"\n\n".join(st) + b"\n"
            # Blocks of 24 MiB, as in Debian's Packages.xz (two blocks for bookworm main).
            threads = "-T2" if k == 1 else "-T1"
            argv = ["xz", f"-{preset}", threads, f"--block-size={XZ_BLOCK}", "-c"]
            xz = subprocess.run(argv, input=text, capture_output=True, check=True).stdout
            meta = {
                "packages": len(st),
                "counts": list(counts),
                "md5": hashlib.md5(text).hexdigest(),
                "sha256": hashlib.sha256(text).hexdigest(),
                "size": len(text),
            }
            self._to_cache(k, xz, meta)
            return self._write(k, xz, meta)

        with ThreadPoolExecutor(2) as pool:
            st1, c1 = churner.derive(stanzas, 1)
            first: Future[State] = pool.submit(make, 1, st1, 6, c1)

            def rest() -> list[State]:
                out, prev = [], st1
                for k in range(2, self.rounds + 1):
                    cur, counts = churner.derive(prev, k)
                    out.append(make(k, cur, 0, counts))
                    prev = cur
                return out

            later = pool.submit(rest)
            self.states.append(first.result())
            self.states += later.result()
        self.log = f"derived states generated (cached in {self.cache})" if self.cache else ""

    # The derived Packages.xz files are deterministic (seeded), so they are cached between
    # runs, keyed by the corpus index and this file; signatures are made afresh each run.
    def _from_cache(self) -> list[State] | None:
        if self.cache is None:
            return None
        metas = []
        for k in range(1, self.rounds + 1):
            meta, xz = self.cache / f"{k:02d}.json", self.cache / f"{k:02d}.xz"
            if not (meta.is_file() and xz.is_file()):
                return None
            metas.append((k, json.loads(meta.read_text()), xz))
        states = [State(0, self.base / "state00", int(metas[0][1]["base_packages"]))]
        for k, meta, xz in metas:
            states.append(self._write(k, xz.read_bytes(), meta))
        return states

    def _to_cache(self, k: int, xz: bytes, meta: dict[str, Any]) -> None:
        if self.cache is None:
            return
        if k == 1:
            meta["base_packages"] = meta["packages"] - meta["counts"][2] + meta["counts"][0]
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            for name, data in ((f"{k:02d}.xz", xz), (f"{k:02d}.json", json.dumps(meta).encode())):
                tmp = self.cache / f".{name}.{os.getpid()}"
                tmp.write_bytes(data)
                tmp.replace(self.cache / name)
        except OSError as exc:
            print(f"  (cannot cache derived states in {self.cache}: {exc})", file=sys.stderr)
            self.cache = None

    def _write(self, k: int, xz: bytes, meta: dict[str, Any]) -> State:
        """Lay out state ``k`` (Packages.xz, by-hash, Release, signatures) for serving."""
        root = self.base / f"state{k:02d}"
        dists = root / "debian" / "dists" / SUITE
        binary = dists / "main" / "binary-amd64"
        (binary / "by-hash" / "SHA256").mkdir(parents=True)
        dists0 = self.base / "state00" / "debian" / "dists" / SUITE
        shutil.copy(dists0 / "main" / "binary-amd64" / "Release", binary / "Release")
        (dists / "main" / "i18n").symlink_to(dists0 / "main" / "i18n")

        sha_xz = hashlib.sha256(xz).hexdigest()
        (binary / "Packages.xz").write_bytes(xz)
        os.link(binary / "Packages.xz", binary / "by-hash" / "SHA256" / sha_xz)
        files = {
            PACKAGES: (meta["md5"], meta["sha256"], meta["size"]),
            f"{PACKAGES}.xz": (hashlib.md5(xz).hexdigest(), sha_xz, len(xz)),
        }
        release = _release(self.template, self.base_date + timedelta(hours=k), files)
        self.signer.sign(dists, release)
        return State(k, root, int(meta["packages"]), *meta["counts"])

    def close(self) -> None:
        self.signer.close()


# -- the tools ------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ, REPOVERSION_NOW=NOW)
    for key in list(env):
        if key.startswith("REPOVERSION_") and key not in ("REPOVERSION_NOW",):
            env.pop(key)  # nothing from the caller's home leaks into the benchmark's
    return env


class RvHome:
    """A fresh repoversion home with the upstream as its one archive (``on_demand``).

    :param arches: the ``--arch`` values (``source`` asks for the Sources index).
    """

    def __init__(
        self, home: Path, url: str, keyring: Path, arches: Sequence[str] = ("amd64",)
    ) -> None:
        self.home = home
        self.env = _env()
        rv = venv_bin("repoversion")
        run_measured([rv, "--home", str(home), "init"], env=self.env).check()
        run_measured(
            [
                rv, "--home", str(home), "archive", "add", "debian", url,
                "--suite", SUITE, "--component", "main",
                *(a for arch in arches for a in ("--arch", arch)),
                "--keyring", str(keyring),
            ],
            env=self.env,
        ).check()  # fmt: skip

    def cli(self) -> Measured:
        """``repoversion --home H sync --json``, as a user runs it."""
        m = run_measured(
            [venv_bin("repoversion"), "--home", str(self.home), "sync", "--json"], env=self.env
        ).check()
        m.extra = json.loads(m.stdout)
        return m

    def inproc(self, profile: Path | None = None) -> Measured:
        """``run_sync`` in a fresh interpreter; ``extra['sync']`` is its in-process time."""
        argv = [sys.executable, "-c", RUNNER, str(self.home)]
        if profile is not None:
            argv.append(str(profile))
        m = run_measured(argv, env=self.env).check()
        m.extra = m.last_json()
        return m

    def table_sizes(self) -> dict[str, int]:
        """Bytes per table and index (SQLite's dbstat), {} when SQLite lacks it."""
        con = sqlite3.connect(self.home / "repoversion.db")
        try:
            rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.Error:
            return {}
        finally:
            con.close()
        return {str(name): int(size) for name, size in rows}

    def db_size(self) -> int:
        """repoversion.db plus its -wal after a TRUNCATE checkpoint (no VACUUM)."""
        db = self.home / "repoversion.db"
        con = sqlite3.connect(db)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            con.close()
        wal = db.with_name(db.name + "-wal")
        return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


class AptlyMirror:
    """A private aptly root with one mirror whose filter matches no package.

    :param architectures: aptly's ``-architectures``.
    :param with_sources: aptly's ``-with-sources`` (fetch and parse the Sources index too).
    """

    FILTER = "Name (= nonexistent-package-xyz)"

    def __init__(
        self,
        base: Path,
        url: str,
        keyring: Path,
        architectures: Sequence[str] = ("amd64",),
        with_sources: bool = False,
    ) -> None:
        base.mkdir()
        (base / "gnupg").mkdir(mode=0o700)
        self.conf = base / "aptly.conf"
        self.conf.write_text(
            json.dumps({"rootDir": str(base / "root"), "gpgProvider": "gpg", "architectures": []})
        )
        self.env = dict(os.environ, GNUPGHOME=str(base / "gnupg"))
        self.keyring = keyring
        run_measured(
            [
                "aptly", f"-config={self.conf}", "mirror", "create",
                f"-architectures={','.join(architectures)}", f"-filter={self.FILTER}",
                "-filter-with-deps=false", f"-with-sources={str(with_sources).lower()}",
                "-with-udebs=false", f"-keyring={keyring}",
                "bench", url, SUITE, "main",
            ],
            env=self.env,
        ).check()  # fmt: skip

    def update(self) -> Measured:
        m = run_measured(
            [
                "aptly",
                f"-config={self.conf}",
                "mirror",
                "update",
                f"-keyring={self.keyring}",
                "bench",
            ],
            env=self.env,
        ).check()
        if "Packages filtered:" not in m.stdout:
            raise RuntimeError(f"aptly did not parse the index:\n{m.stdout[-800:]}")
        return m


# -- measurement ----------------------------------------------------------------------------
@dataclass
class Samples:
    cli: list[Measured] = field(default_factory=list)
    inproc: list[Measured] = field(default_factory=list)
    aptly: list[Measured] = field(default_factory=list)

    def wall(self, kind: str) -> float:
        return statistics.median(m.wall for m in getattr(self, kind))

    def rss(self, kind: str) -> int:
        return max(m.maxrss_kb for m in getattr(self, kind))

    def sync(self) -> float:
        return statistics.median(float(m.extra["sync"]) for m in self.inproc)

    def imports(self) -> float:
        return statistics.median(float(m.extra["imports"]) for m in self.inproc)


def _step(
    label: str,
    n: int,
    cli: list[RvHome],
    inproc: list[RvHome],
    aptly: list[AptlyMirror],
    expect: Callable[[dict[str, Any]], str | None],
) -> Samples:
    s = Samples()
    for r in range(n):
        s.cli.append(cli[r].cli())
        s.aptly.append(aptly[r].update())
        s.inproc.append(inproc[r].inproc())
        for m in (s.cli[-1], s.inproc[-1]):
            problem = expect(m.extra)
            if problem:
                raise RuntimeError(f"{label}: {problem}: {m.extra}")
        print(
            f"  {label} {r + 1}/{n}: repoversion CLI {fmt_s(s.cli[-1].wall)} "
            f"{fmt_mb(s.cli[-1].maxrss_kb)} · aptly {fmt_s(s.aptly[-1].wall)} "
            f"{fmt_mb(s.aptly[-1].maxrss_kb)} · in-process sync "
            f"{fmt_s(float(s.inproc[-1].extra['sync']))} "
            f"(imports {fmt_s(float(s.inproc[-1].extra['imports']))}, "
            f"child {fmt_s(s.inproc[-1].wall)} {fmt_mb(s.inproc[-1].maxrss_kb)})",
            flush=True,
        )
    return s


def _profile_text(path: Path, top: int = 30) -> str:
    import pstats

    buf = io.StringIO()
    pstats.Stats(str(path), stream=buf).strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = buf.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


def _print_profile(label: str, m: Measured, path: Path) -> None:
    took = fmt_s(float(m.extra["sync"]))
    print(f"--- {label} (in-process {took} under cProfile)")
    print(_profile_text(path), flush=True)


def run(opts: argparse.Namespace) -> list[Row]:
    """The sync benchmark, then the sources one (see the module's docstring). A part that
    crashes is a CRASHED row; the other part still runs."""
    parts: list[tuple[str, Callable[[argparse.Namespace], list[Row]]]] = []
    only = bool(getattr(opts, "sources_only", False))
    if not only:
        parts.append((NAME, _run_sync))
    if only or sources.inside_sync(opts):
        parts.append((sources.NAME, sources.run))
    rows: list[Row] = []
    for name, part in parts:
        if name != NAME:
            print(f"\n=== benchmark: {name} (in the {NAME} module) ===", flush=True)
        try:
            rows += part(opts)
        except Exception as exc:  # a benchmark that crashes is a result
            traceback.print_exc()
            crash = f"{type(exc).__name__}: {exc}"[:200]
            rows.append(Row(name, "(part of the sync module)", crash, "runs", False, "CRASHED"))
    return rows


def _run_sync(opts: argparse.Namespace) -> list[Row]:
    repeat = max(1, int(getattr(opts, "sync_repeat", 3)))
    rounds = max(1, int(getattr(opts, "sync_rounds", 20)))
    profile_mode = getattr(opts, "sync_profile", "auto")
    for tool in ("aptly", "gpg", "gpgv", "xz"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    rows: list[Row] = []
    B = "sync"
    with scratch("rv-bench-sync-") as base:
        ups = Upstreams(base, rounds)
        try:
            print(f"preparing {rounds} derived upstream states from {CORPUS} …", flush=True)
            with timed() as t_prep:
                ups.prepare()
            s1 = ups.states[1]
            print(
                f"  done in {fmt_s(t_prep[0])}, {ups.log}: state 1 has {s1.packages} packages "
                f"({s1.removed} removed, {s1.upgraded} upgraded, {s1.added} added)",
                flush=True,
            )
            rows += _measure(ups, repeat, rounds, profile_mode, base, B)
        finally:
            ups.close()
    return rows


def _measure(
    ups: Upstreams, repeat: int, rounds: int, profile_mode: str, base: Path, B: str
) -> list[Row]:
    rows: list[Row] = []
    states = ups.states
    with StaticServer(states[0].root) as srv:
        url = f"{srv.url}/debian"
        print(f"upstream on {url}; {repeat} fresh home(s)/mirror(s) per tool", flush=True)
        cli = [RvHome(base / f"cli{r}", url, ups.keyring) for r in range(repeat)]
        inproc = [RvHome(base / f"inproc{r}", url, ups.keyring) for r in range(repeat)]
        aptly = [AptlyMirror(base / f"aptly{r}", url, ups.keyring) for r in range(repeat)]

        def new_with(counts: dict[str, int]) -> Callable[[dict[str, Any]], str | None]:
            def check(out: dict[str, Any]) -> str | None:
                if not out.get("new"):
                    return "no new repoversion was committed"
                got: dict[str, int] = out.get("changes") or {}
                bad = {k: (got.get(k), v) for k, v in counts.items() if got.get(k) != v}
                return f"unexpected change counts (got, expected) {bad}" if bad else None

            return check

        def unchanged(out: dict[str, Any]) -> str | None:
            return "a new repoversion was committed" if out.get("new") else None

        print("1. first sync (corpus)", flush=True)
        first = _step("first", repeat, cli, inproc, aptly, new_with({}))
        db_v1 = inproc[0].db_size()
        tables_v1 = inproc[0].table_sizes()
        versions = [str(first.inproc[0].extra.get("repoversion"))]

        print("2. unchanged re-sync", flush=True)
        same = _step("unchanged", repeat, cli, inproc, aptly, unchanged)
        db_after_same = inproc[0].db_size()

        s1 = states[1]
        print(f"3. 1%-churn re-sync (state 1: -{s1.removed} ^{s1.upgraded} +{s1.added})")
        srv.root = s1.root
        churn = _step(
            "churn", repeat, cli, inproc, aptly,
            new_with({"removed": s1.removed, "upgraded": s1.upgraded, "added": s1.added}),
        )  # fmt: skip
        sizes = [db_v1, inproc[0].db_size()]
        versions.append(str(churn.inproc[0].extra.get("repoversion")))
        round_times = [float(churn.inproc[0].extra["sync"])]

        print(f"4. database growth: {rounds} successive 1%-churn versions", flush=True)
        for st in states[2:]:
            srv.root = st.root
            m = inproc[0].inproc()
            problem = new_with({"removed": st.removed, "upgraded": st.upgraded, "added": st.added})(
                m.extra
            )
            if problem:
                raise RuntimeError(f"growth round {st.index}: {problem}")
            sizes.append(inproc[0].db_size())
            versions.append(str(m.extra.get("repoversion")))
            round_times.append(float(m.extra["sync"]))
        incs = [b - a for a, b in itertools.pairwise(sizes)]
        pcts = [100 * i / db_v1 for i in incs]
        detail = [
            [
                str(i + 2),
                versions[i + 1],
                f"{sizes[i + 1] / 1e6:.2f} MB",
                f"+{incs[i] / 1e3:.0f} kB",
                f"{pcts[i]:.2f} %",
                fmt_s(round_times[i]),
            ]
            for i in range(len(incs))
        ]
        print_table(
            ["version", "repoversion", "db size", "increment", "of first", "in-process sync"],
            detail,
        )

        tables_end = inproc[0].table_sizes()
        if tables_end:
            grew = sorted(tables_end, key=lambda t: tables_v1.get(t, 0) - tables_end[t])[:6]
            print(f"where the growth went (version 1 → {len(sizes)}):")
            print_table(
                ["table/index", "version 1", f"version {len(sizes)}", "per version"],
                [
                    [
                        t,
                        f"{tables_v1.get(t, 0) / 1e6:.2f} MB",
                        f"{tables_end[t] / 1e6:.2f} MB",
                        f"+{(tables_end[t] - tables_v1.get(t, 0)) / len(incs) / 1e3:.0f} kB",
                    ]
                    for t in grew
                ],
            )

        # -- rows ---------------------------------------------------------------------
        f_rv, f_ap = first.wall("cli"), first.wall("aptly")
        ratio = f_rv / f_ap
        rows += [
            Row(B, "samples per figure (median; RSS: max)", str(repeat)),
            Row(B, "first sync: repoversion CLI wall", fmt_s(f_rv)),
            Row(B, "first sync: aptly mirror update wall", fmt_s(f_ap)),
            Row(
                B, "first sync: ratio repoversion/aptly", f"{ratio:.2f}",
                f"<= {FIRST_RATIO_MAX}", ratio <= FIRST_RATIO_MAX,
            ),
            Row(
                B, "first sync: peak RSS repoversion / aptly",
                f"{fmt_mb(first.rss('cli'))} / {fmt_mb(first.rss('aptly'))}",
                "repoversion < aptly", first.rss("cli") < first.rss("aptly"),
            ),
            Row(
                B, "first sync: in-process run_sync (imports apart)",
                f"{fmt_s(first.sync())} (+{fmt_s(first.imports())} imports; "
                f"{first.sync() / f_ap:.2f} of aptly)",
            ),
            Row(B, "unchanged re-sync: repoversion CLI wall", fmt_s(same.wall("cli"))),
            Row(B, "unchanged re-sync: aptly wall", fmt_s(same.wall("aptly"))),
            Row(
                B, "unchanged re-sync: in-process run_sync", fmt_s(same.sync()),
                f"< {UNCHANGED_MAX_S} s", same.sync() < UNCHANGED_MAX_S,
            ),
        ]  # fmt: skip
        c_cli = churn.wall("cli") / f_rv
        c_in = churn.sync() / first.sync()
        rows += [
            Row(
                B, "1% churn: repoversion CLI wall (÷ first)",
                f"{fmt_s(churn.wall('cli'))} ({c_cli:.2f})",
                f"< {CHURN_FRACTION_MAX} x first", c_cli < CHURN_FRACTION_MAX,
            ),
            Row(
                B, "1% churn: in-process run_sync (÷ first)",
                f"{fmt_s(churn.sync())} ({c_in:.2f})",
                f"< {CHURN_FRACTION_MAX} x first", c_in < CHURN_FRACTION_MAX,
            ),
            Row(
                B, f"1% churn: in-process run_sync, {len(round_times)} growth rounds",
                f"median {fmt_s(statistics.median(round_times))} "
                f"({statistics.median(round_times) / first.sync():.2f} of first)",
            ),
            Row(
                B, "1% churn: aptly wall (÷ aptly first)",
                f"{fmt_s(churn.wall('aptly'))} ({churn.wall('aptly') / f_ap:.2f})",
            ),
            Row(
                B, "1% churn: peak RSS repoversion / aptly",
                f"{fmt_mb(churn.rss('cli'))} / {fmt_mb(churn.rss('aptly'))}",
            ),
            Row(
                B, "db size after version 1",
                f"{db_v1 / 1e6:.2f} MB (unchanged re-sync: {db_after_same - db_v1:+d} B)",
            ),
            Row(
                B, f"db growth per version ({len(incs)} versions)",
                f"max {max(pcts):.2f} %, mean {statistics.mean(pcts):.2f} %",
                f"<= {GROWTH_MAX_PCT} % each", max(pcts) <= GROWTH_MAX_PCT,
            ),
        ]  # fmt: skip

        # -- profiles of what missed (or of everything) -----------------------------
        want = {
            "first": ratio > FIRST_RATIO_MAX,
            "unchanged": same.sync() >= UNCHANGED_MAX_S,
            "churn": c_in >= CHURN_FRACTION_MAX or c_cli >= CHURN_FRACTION_MAX,
        }
        if profile_mode == "always":
            want = dict.fromkeys(want, True)
        elif profile_mode == "never":
            want = dict.fromkeys(want, False)
        if any(want.values()):
            print("cProfile of the in-process sync (cumulative time, top lines):", flush=True)
            home = None
            if want["first"] or want["churn"]:
                srv.root = states[0].root
                home = RvHome(base / "profile", url, ups.keyring)
                pf = base / "first.prof"
                m = home.inproc(pf if want["first"] else None)
                if want["first"]:
                    _print_profile("first sync", m, pf)
            if want["churn"] and home is not None:
                srv.root = states[1].root
                pf = base / "churn.prof"
                m = home.inproc(pf)
                _print_profile("1% churn re-sync", m, pf)
            if want["unchanged"]:
                srv.root = states[-1].root
                pf = base / "unchanged.prof"
                m = inproc[0].inproc(pf)
                _print_profile("unchanged re-sync", m, pf)
    return rows
