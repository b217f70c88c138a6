"""The soak's upstream: a signed fixture archive on loopback whose state changes.

Three states, each synced into a version: packages ``pkg-00`` … ``pkg-23`` (2 kB to 150 kB
of random bytes each, so every ``.deb`` is its own blob) and ``churn``, whose version
changes each time; the third state also adds ``fresh``. Every ``.deb`` ever published is
remembered by file name with its SHA-256: what repoversion serves is checked against
upstream's own bytes, not against what repoversion says it stored.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.fixtures.archives import ArchiveServer, DebCache, FixtureArchive, Pkg
from tests.fixtures.gpg import GpgKey

SUITE = "bookworm"
SIZES = (2_000, 20_000, 60_000, 150_000)
STEADY = [f"pkg-{i:02d}" for i in range(24)]


def _pkg(name: str, version: str, size: int) -> Pkg:
    return Pkg(name, version, files={f"usr/share/{name}/data.bin": os.urandom(size)})


class Upstream:
    """The archive ``debian`` (suite bookworm, main, amd64) served on 127.0.0.1."""

    def __init__(self, base: Path) -> None:
        self.key = GpgKey.generate(base)
        self.archive = FixtureArchive(
            base / "upstream", self.key, name="debian", deb_cache=DebCache(base / "debs")
        )
        #: pool path → sha256 of every .deb published
        self.digests: dict[str, str] = {}
        for i, name in enumerate(STEADY):
            self.archive.add(_pkg(name, "1.0-1", SIZES[i % len(SIZES)]), suite=SUITE)
        self.churn = self.set_churn("1.0-1", 30_000)
        self.server = ArchiveServer().start()
        self.archive.serve(self.server)

    @property
    def url(self) -> str:
        return self.archive.url

    @property
    def keyring(self) -> Path:
        assert self.archive.keyring_path is not None
        return self.archive.keyring_path

    def set_churn(self, version: str, size: int) -> Pkg:
        """Replace ``churn`` with ``version`` (``size`` random bytes) and publish."""
        self.churn = _pkg("churn", version, size)
        self.archive.add(self.churn, suite=SUITE)
        self.publish()
        return self.churn

    def add_fresh(self) -> None:
        """Add the package ``fresh`` (not published yet)."""
        self.archive.add(_pkg("fresh", "1.0-1", 5_000), suite=SUITE)

    def publish(self) -> None:
        self.archive.publish()
        for pkg in self.archive.packages(SUITE):
            data = self.archive.path(pkg.filename).read_bytes()
            self.digests[pkg.filename] = hashlib.sha256(data).hexdigest()

    def trickle(self, pkg: Pkg, rate: int) -> None:
        """The next request for ``pkg``'s file gets its body at ``rate`` bytes a second."""
        self.server.add_rule(f"*/{pkg.filename}", rate=rate, times=1)

    def asked_for(self, pkg: Pkg) -> int:
        """How many times ``pkg``'s file was requested."""
        return sum(1 for path in self.archive.requests if path == pkg.filename)

    def close(self) -> None:
        self.archive.close()
        self.server.stop()
        self.key.close()
