"""After the load: nothing lost, memory flat, ``repoversion fsck`` clean.

Nothing lost: every version the API lists is fetched whole through nginx's internal
server block, which caches nothing (a file gone from the store cannot hide behind the
front's cache) and, with the filesystem store, sends each blob after the node's
``X-Accel-Redirect``: its Release files, every index file its ``index.json`` lists (with
that SHA-256) and every pool file its ``packages.json`` lists (with that SHA-256, which
must also be the SHA-256 of upstream's own file). The version GC dropped answers 410.

Memory: the resident set size (``VmRSS``) of every process of both server nodes (gunicorn
masters and workers), summed, at three moments of the load; flat when the last is within
:data:`RSS_TOLERANCE` of the first, and the same processes ran throughout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.deploy.stack import Stack, rss_bytes
from tests.soak.upstream import Upstream

#: growth of the servers' summed RSS from the first sample to the last that still counts
#: as flat: the first is taken after warm-up, so what grows beyond this is kept per request
RSS_TOLERANCE = 0.10


@dataclass
class Memory:
    """RSS samples of the server processes: (label, seconds into the load, bytes)."""

    pids: list[int]
    samples: list[tuple[str, float, int]] = field(default_factory=list)

    def sample(self, label: str, at: float) -> None:
        self.samples.append((label, at, rss_bytes(self.pids)))

    def growth(self) -> float:
        first, last = self.samples[0][2], self.samples[-1][2]
        return (last - first) / first if first else 0.0

    def text(self) -> str:
        return ", ".join(
            f"{label} (+{at:.0f} s) {b / 2**20:.0f} MB" for label, at, b in self.samples
        )


@dataclass
class Inventory:
    """What the final check fetched, and what was wrong."""

    versions: list[str] = field(default_factory=list)
    files: int = 0
    problems: list[str] = field(default_factory=list)


def _session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


def _check_file(http: requests.Session, url: str, sha: str, inv: Inventory) -> None:
    r = http.get(url, timeout=60, allow_redirects=False)
    inv.files += 1
    if r.status_code != 200:
        inv.problems.append(f"{url}: {r.status_code}")
    elif hashlib.sha256(r.content).hexdigest() != sha:
        inv.problems.append(f"{url}: other bytes than sha256 {sha}")


def _all_versions(http: requests.Session, front: str) -> list[str]:
    found: list[str] = []
    url: str | None = f"{front}/api/v1/versions"
    while url:
        page: dict[str, Any] = http.get(url, timeout=30).json()
        found += [v["repoversion"] for v in page["items"]]
        url = f"{front}/api/v1/versions?cursor={page['next']}" if page.get("next") else None
    return found


def _check_version(http: requests.Session, base: str, upstream: Upstream, inv: Inventory) -> None:
    index = http.get(f"{base}/index.json", timeout=30).json()
    for archive, arc in index["archives"].items():
        for suite, content in arc["suites"].items():
            dists = f"{base}/{archive}/dists/{suite}"
            for name in ("InRelease", "Release", "Release.gpg"):
                status = http.get(f"{dists}/{name}", timeout=30).status_code
                inv.files += 1
                if status != 200:
                    inv.problems.append(f"{dists}/{name}: {status}")
            for path, info in content["files"].items():
                _check_file(http, f"{dists}/{path}", info["sha256"], inv)
    for pkg in http.get(f"{base}/packages.json", timeout=30).json():
        if upstream.digests.get(pkg["filename"]) != pkg["sha256"]:
            inv.problems.append(f"{pkg['filename']}: listed with another sha256 than upstream's")
        _check_file(http, f"{base}/{pkg['archive']}/{pkg['filename']}", pkg["sha256"], inv)


def nothing_lost(stack: Stack, upstream: Upstream, dropped: str | None) -> Inventory:
    """Every file of every listed version, uncached; ``dropped`` must answer 410."""
    inv = Inventory()
    with _session() as http:
        inv.versions = _all_versions(http, stack.front)
        for version in inv.versions:
            _check_version(http, f"{stack.files}/v/{version}", upstream, inv)
        if dropped is not None:
            status = http.get(f"{stack.files}/v/{dropped}/index.json", timeout=30).status_code
            if status != 410:
                inv.problems.append(f"{dropped}, dropped by gc, answers {status}, not 410")
            if dropped in inv.versions:
                inv.problems.append(f"{dropped}, dropped by gc, is still listed")
    return inv


def leftovers(blobs: Path) -> list[str]:
    """Temporary files left in the filesystem store (``tmp/``): the killed worker's
    partial download must have been swept by the sync that took its job over, or by GC."""
    tmp = blobs / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def fsck(stack: Stack) -> tuple[bool | None, str]:
    """``repoversion fsck``: (None, why) when the command does not exist yet."""
    if stack.cli("fsck", "--help", check=False).returncode != 0:
        return None, "not available (`repoversion fsck --help` fails)"
    done = stack.cli("fsck", check=False)
    said = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return done.returncode == 0, f"exit {done.returncode}: {said[-1] if said else '(nothing)'}"
