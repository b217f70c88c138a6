"""Sources benchmark: first sync of main with amd64 + arm64 and Sources, against aptly.

The upstream, served on 127.0.0.1 as the sync benchmark serves its own, is generated from
the corpus's bookworm ``main/binary-amd64/Packages.xz`` (63,440 stanzas):

- ``binary-amd64``: the corpus's; ``i18n/Translation-en.xz``: the corpus's (repoversion
  fetches it, aptly does not, as on the sync benchmark's upstream);
- ``binary-arm64``: the same stanzas, ``Architecture: amd64`` made ``arm64`` and
  ``_amd64.deb`` made ``_arm64.deb`` (``all`` packages kept; sizes and hashes too:
  nothing downloads pool files);
- ``source/Sources.xz``: one stanza per source (name, version) of the binaries (34,171),
  each with a made-up but well-formed ``.dsc``, ``.orig.tar.xz`` and ``.debian.tar.xz``.

A Release lists them (MD5Sum, SHA256, compressed and uncompressed), signed with a
throwaway key; the generated ``.xz`` are cached like the sync benchmark's states. Each
sample is a fresh repoversion home (``archive add --arch amd64 --arch arm64 --arch
source``, ``on_demand``; ``sync --json`` timed) and a fresh aptly root (``mirror create
-with-sources -architectures=amd64,arm64`` with the filter matching nothing; ``mirror
update`` timed), alternating which goes first. Target: median wall ratio <= 1.0.

It runs inside the ``sync`` module (alone: ``python -m tests.bench sync --sources-only``,
``--sources-quick`` for one sample), or as a module of its own if the runner lists it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    scratch,
    timed,
)

NAME = "sources"
SUITE = "bookworm"
ARCHES = ("amd64", "arm64")
RATIO_MAX = 1.0
XZ_BLOCK = 24 << 20  # as Debian's Packages.xz

_VERSION = re.compile(rb"^Version: (.*)$", re.M)
_MAINTAINER = re.compile(rb"^Maintainer: (.*)$", re.M)
_ARCH = re.compile(rb"^Architecture: (.*)$", re.M)
_SOURCE = re.compile(rb"^Source: ([^ \n]+)(?: \(([^)\n]+)\))?$", re.M)


def add_arguments(group: argparse._ArgumentGroup) -> None:
    if "--sources-repeat" in group._option_string_actions:  # sync already added them
        return
    group.add_argument(
        "--sources-repeat",
        type=int,
        default=int(os.environ.get("REPOVERSION_BENCH_REPEAT", "3")),
        help="sources benchmark (amd64+arm64+Sources first sync against aptly): samples "
        "per tool, medians reported (default 3)",
    )
    for flag, text in (
        ("--sources-quick", "sources benchmark: one sample per tool, no profile (but with "
         "--sync-profile always)"),
        ("--sources-only", "in the sync module, run only the sources benchmark"),
        ("--no-sources", "in the sync module, skip the sources benchmark"),
    ):  # fmt: skip
        group.add_argument(flag, action="store_true", help=text)


def inside_sync(opts: argparse.Namespace) -> bool:
    """Whether the ``sync`` module runs this benchmark: not when the runner lists
    ``sources`` as a module of its own, nor with ``--no-sources``."""
    runner = getattr(sys.modules.get("__main__"), "MODULES", ())
    return NAME not in runner and not getattr(opts, "no_sources", False)


# -- the generated upstream -------------------------------------------------------------------
def arm64_index(amd64: bytes) -> bytes:
    """The amd64 Packages as arm64's: architecture and .deb names changed, ``all`` kept."""
    n = amd64.count(b"\nArchitecture: amd64\n")
    out = amd64.replace(b"\nArchitecture: amd64\n", b"\nArchitecture: arm64\n")
    out = out.replace(b"_amd64.deb\n", b"_arm64.deb\n")
    if out.count(b"_arm64.deb\n") != n or b"\nArchitecture: amd64\n" in out:
        raise RuntimeError("an amd64 stanza whose Filename does not end in _amd64.deb")
    return out


def _pool_prefix(name: str) -> str:
    return name[:4] if name.startswith("lib") and len(name) > 3 else name[0]


def _source_stanza(name: str, version: str, binaries: list[str], maintainer: str) -> str:
    directory = f"pool/main/{_pool_prefix(name)}/{name}"
    plain = version.split(":", 1)[-1]
    upstream = plain.rsplit("-", 1)[0]
    files = []
    for file, base, digits in (
        (f"{name}_{plain}.dsc", 900, 3),  # < 5 kB
        (f"{name}_{upstream}.orig.tar.xz", 40_000, 6),  # < 17 MB
        (f"{name}_{plain}.debian.tar.xz", 4_000, 4),  # < 70 kB
    ):
        seed = f"{directory}/{file}".encode()
        sha = hashlib.sha256(seed).hexdigest()
        size = base + int(sha[:digits], 16)
        files.append((file, hashlib.md5(seed).hexdigest(), sha, size))
    return "".join(
        [
            f"Package: {name}\nBinary: {', '.join(binaries)}\nVersion: {version}\n",
            f"Maintainer: {maintainer}\nArchitecture: any\nFormat: 3.0 (quilt)\nFiles:\n",
            *(f" {md5} {size} {file}\n" for file, md5, _, size in files),
            "Checksums-Sha256:\n",
            *(f" {sha} {size} {file}\n" for file, _, sha, size in files),
            f"Directory: {directory}\n",
        ]
    )


def sources_index(amd64: bytes) -> tuple[bytes, dict[str, int]]:
    """One Sources stanza per (source name, source version) of the binary index, and
    counts: binary stanzas per architecture, distinct package keys, source stanzas."""
    groups: dict[tuple[bytes, bytes], tuple[dict[bytes, None], bytes]] = {}
    keys: set[tuple[bytes, bytes]] = set()
    arch_count = {"amd64": 0, "all": 0}
    for stanza in amd64.rstrip(b"\n").split(b"\n\n"):
        name = stanza[9 : stanza.index(b"\n")]  # Debian writes Package first
        version = _field(_VERSION, stanza)
        arch = _field(_ARCH, stanza)
        arch_count[arch.decode()] += 1
        keys.update({(name, arch), (name, b"arm64" if arch == b"amd64" else arch)})
        src = _SOURCE.search(stanza)
        key = (src.group(1), src.group(2) or version) if src else (name, version)
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = ({}, _field(_MAINTAINER, stanza))
        entry[0][name] = None
    text = "\n".join(
        _source_stanza(n.decode(), v.decode(), [b.decode() for b in bins], m.decode())
        for (n, v), (bins, m) in sorted(groups.items())
    )
    counts = {
        **arch_count,
        "sources": len(groups),
        "source_names": len({n for n, _ in groups}),
        "binary_keys": len(keys),
    }
    return text.encode(), counts


def _field(pattern: re.Pattern[bytes], stanza: bytes) -> bytes:
    found = pattern.search(stanza)
    if found is None:
        raise ValueError(f"stanza without {pattern.pattern!r}: {stanza[:80]!r}")
    return found.group(1)


def _xz(data: bytes) -> bytes:
    argv = ["xz", "-6", "-T2", f"--block-size={XZ_BLOCK}", "-c"]
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def _digests(data: bytes) -> tuple[str, str, int]:
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)


class Upstream:
    """The generated, signed upstream under ``base/up``; ``keyring`` verifies it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "up"
        self.signer = Signer(base / "gnupg", base / "keyring.gpg")
        self.keyring = self.signer.keyring
        self.meta: dict[str, Any] = {}
        self.log = ""

    def prepare(self) -> None:
        self.signer.create(DEBIAN_KEYRING.read_bytes())
        corpus = CORPUS / "debian" / "dists" / SUITE
        corpus_xz = (corpus / "main" / "binary-amd64" / "Packages.xz").read_bytes()
        files = self._generated(corpus_xz)
        template = (corpus / "Release").read_text()
        entries = _entries(template, ["binary-amd64/Packages", "i18n/Translation-en"])

        dists = self.root / "debian" / "dists" / SUITE
        (dists / "main").mkdir(parents=True)
        for kept in ("binary-amd64", "i18n"):
            (dists / "main" / kept).symlink_to(corpus / "main" / kept)
        amd64_release = (corpus / "main" / "binary-amd64" / "Release").read_text()
        entries["main/binary-amd64/Release"] = _digests(amd64_release.encode())
        for sub, index, arch in (
            ("binary-arm64", "Packages", "arm64"),
            ("source", "Sources", "source"),
        ):
            directory = dists / "main" / sub
            (directory / "by-hash" / "SHA256").mkdir(parents=True)
            xz = files[index]
            sha = hashlib.sha256(xz).hexdigest()
            (directory / f"{index}.xz").write_bytes(xz)
            os.link(directory / f"{index}.xz", directory / "by-hash" / "SHA256" / sha)
            sub_release = amd64_release.replace("Architecture: amd64", f"Architecture: {arch}")
            (directory / "Release").write_text(sub_release)
            path = f"main/{sub}/{index}"
            md5, sha256, size = self.meta[index]
            entries[path] = (md5, sha256, int(size))
            entries[f"{path}.xz"] = _digests(xz)
            entries[f"main/{sub}/Release"] = _digests(sub_release.encode())
        self.signer.sign(dists, _release(template, entries))

    def _generated(self, corpus_xz: bytes) -> dict[str, bytes]:
        """The arm64 Packages.xz and the Sources.xz, from the cache or made (and cached)."""
        cache = None
        root = cache_root()
        if root is not None:
            key = hashlib.sha256(
                hashlib.sha256(corpus_xz).digest() + Path(__file__).read_bytes()
            ).hexdigest()[:16]
            cache = root / f"sources-{key}"
            if root.is_dir():
                for old in root.glob("sources-*"):
                    if old.is_dir() and old != cache:
                        shutil.rmtree(old, ignore_errors=True)
            names = ("meta.json", "Packages.xz", "Sources.xz")
            if all((cache / n).is_file() for n in names):
                self.meta = json.loads((cache / "meta.json").read_text())
                self.log = f"read from the cache {cache}"
                return {n[:-3]: (cache / n).read_bytes() for n in names[1:]}
        amd64 = lzma.decompress(corpus_xz)
        arm64 = arm64_index(amd64)
        sources, counts = sources_index(amd64)
        del amd64
        out = {"Packages": _xz(arm64), "Sources": _xz(sources)}
        self.meta = {"Packages": _digests(arm64), "Sources": _digests(sources), **counts}
        self.log = "generated" + (f" (cached in {cache})" if cache else "")
        if cache is not None:
            try:
                cache.mkdir(parents=True, exist_ok=True)
                blobs = {f"{k}.xz": v for k, v in out.items()}
                for name, data in {**blobs, "meta.json": json.dumps(self.meta).encode()}.items():
                    tmp = cache / f".{name}.{os.getpid()}"
                    tmp.write_bytes(data)
                    tmp.replace(cache / name)
            except OSError as exc:
                print(f"  (cannot cache the generated indices in {cache}: {exc})", file=sys.stderr)
        return out

    def close(self) -> None:
        self.signer.close()


def _entries(template: str, paths: list[str]) -> dict[str, tuple[str, str, int]]:
    """(md5, sha256, size) of ``main/<path>`` and ``main/<path>.xz`` in the corpus Release."""
    wanted = {f"main/{p}{ext}" for p in paths for ext in ("", ".xz")}
    got: dict[str, dict[str, Any]] = {}
    section = ""
    for line in template.splitlines():
        if not line.startswith(" "):
            section = line.split(":", 1)[0]
        elif section in ("MD5Sum", "SHA256") and (parts := line.split())[2] in wanted:
            got.setdefault(parts[2], {})[section] = parts[0]
            got[parts[2]]["size"] = int(parts[1])
    if set(got) != wanted:
        raise RuntimeError(f"the corpus Release lacks {sorted(wanted - set(got))}")
    return {p: (v["MD5Sum"], v["SHA256"], v["size"]) for p, v in got.items()}


def _release(template: str, entries: dict[str, tuple[str, str, int]]) -> str:
    """The corpus Release's fields (main only, all amd64 arm64) listing just ``entries``."""
    head = template.split("\nMD5Sum:", 1)[0].splitlines()
    fields = {"Architectures": "all amd64 arm64", "Components": "main"}
    out = [f"{k}: {fields[k]}" if (k := line.split(":", 1)[0]) in fields else line for line in head]
    for section, column in (("MD5Sum", 0), ("SHA256", 1)):
        out.append(f"{section}:")
        out += [f" {e[column]} {e[2]:8d} {p}" for p, e in sorted(entries.items())]
    return "\n".join(out) + "\n"


# -- measurement ----------------------------------------------------------------------------
def run(opts: argparse.Namespace) -> list[Row]:
    from tests.bench.sync import RvHome, _print_profile  # sync imports this module

    quick = bool(getattr(opts, "sources_quick", False))
    repeat = 1 if quick else max(1, int(getattr(opts, "sources_repeat", 3)))
    profile = getattr(opts, "sync_profile", "auto")
    for tool in ("aptly", "gpg", "gpgv", "xz"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    B = NAME
    with scratch("rv-bench-sources-") as base:
        up = Upstream(base)
        try:
            print(f"preparing the amd64+arm64+Sources upstream from {CORPUS} …", flush=True)
            with timed() as t_prep:
                up.prepare()
            m = up.meta
            n = m["amd64"] + m["all"]
            print(
                f"  done in {fmt_s(t_prep[0])}, indices {up.log}: {n} "
                f"stanzas per architecture ({m['amd64']} amd64/arm64, {m['all']} all), "
                f"{m['sources']} source packages",
                flush=True,
            )
            with StaticServer(up.root) as srv:
                url = f"{srv.url}/debian"
                print(f"upstream on {url}; {repeat} fresh home(s)/mirror(s) per tool", flush=True)
                rv, ap = _samples(base, url, up, repeat)
                f_rv = statistics.median(s.wall for s in rv)
                f_ap = statistics.median(s.wall for s in ap)
                ratio = f_rv / f_ap
                if profile == "auto" and quick and ratio > RATIO_MAX:
                    print("(no profile in quick mode; --sync-profile always gives one)")
                if profile == "always" or (profile == "auto" and not quick and ratio > RATIO_MAX):
                    home = RvHome(base / "profile", url, up.keyring, (*ARCHES, "source"))
                    prof = base / "first.prof"
                    print("cProfile of the in-process sync (cumulative time, top lines):")
                    _print_profile("first sync, amd64+arm64+source", home.inproc(prof), prof)
        finally:
            up.close()
    return [
        Row(B, "upstream: stanzas amd64 / arm64 / Sources", f"{n} / {n} / {m['sources']}"),
        Row(B, "samples per figure (median; RSS: max)", str(repeat)),
        Row(B, "first sync +arm64+source: repoversion CLI wall", fmt_s(f_rv)),
        Row(B, "first sync +arm64+source: aptly mirror update wall", fmt_s(f_ap)),
        Row(
            B, "first sync +arm64+source: ratio repoversion/aptly", f"{ratio:.2f}",
            f"<= {RATIO_MAX}", ratio <= RATIO_MAX,
        ),
        Row(
            B, "first sync +arm64+source: peak RSS repoversion / aptly",
            f"{fmt_mb(max(s.maxrss_kb for s in rv))} / {fmt_mb(max(s.maxrss_kb for s in ap))}",
        ),
    ]  # fmt: skip


def _samples(
    base: Path, url: str, up: Upstream, repeat: int
) -> tuple[list[Measured], list[Measured]]:
    """``repeat`` first syncs per tool, each in a fresh home/root, alternating who goes
    first; every sample is checked to have read every index."""
    from tests.bench.sync import AptlyMirror, RvHome

    m = up.meta
    # repoversion counts packages by (kind, name, architecture); aptly lists every binary
    # (name, version, architecture) and every source (name, version) it parsed.
    rv_expect = m["binary_keys"] + m["source_names"]
    aptly_expect = m["amd64"] * 2 + m["all"] + m["sources"]
    rv: list[Measured] = []
    ap: list[Measured] = []
    for r in range(repeat):
        home = RvHome(base / f"rv{r}", url, up.keyring, (*ARCHES, "source"))
        mirror = AptlyMirror(base / f"aptly{r}", url, up.keyring, ARCHES, with_sources=True)
        for tool in ("rv", "aptly") if r % 2 == 0 else ("aptly", "rv"):
            if tool == "rv":
                rv.append(home.cli())
                added = (rv[-1].extra.get("changes") or {}).get("added")
                if not rv[-1].extra.get("new") or added != rv_expect:
                    raise RuntimeError(
                        f"repoversion added {added} packages, expected {rv_expect} "
                        f"(amd64, arm64 and source): {rv[-1].extra}"
                    )
            else:
                ap.append(mirror.update())
                got = re.search(r"Packages filtered: (\d+) -> 0", ap[-1].stdout)
                if got is None or int(got.group(1)) != aptly_expect:
                    raise RuntimeError(
                        f"aptly did not parse the {aptly_expect} expected packages:\n"
                        f"{ap[-1].stdout[-800:]}"
                    )
        print(
            f"  first {r + 1}/{repeat}: repoversion CLI {fmt_s(rv[-1].wall)} "
            f"{fmt_mb(rv[-1].maxrss_kb)} · aptly {fmt_s(ap[-1].wall)} {fmt_mb(ap[-1].maxrss_kb)}",
            flush=True,
        )
    return rv, ap
