"""A repoversion costs database space in proportion to what changed, not to the archive.

A synthetic signed index of 20,000 packages; each new version changes 1% of them.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fixtures.archives import ArchiveServer

COUNT = 20_000


def stanza(name: str, version: str) -> str:
    digest = hashlib.sha256(f"{name} {version}".encode()).hexdigest()
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n"
        f"Maintainer: Nobody <nobody@example.invalid>\nInstalled-Size: 10\n"
        f"Filename: pool/main/{name[0]}/{name}/{name}_{version}_amd64.deb\nSize: 1234\n"
        f"SHA256: {digest}\nSection: misc\nPriority: optional\n"
        f"Description: synthetic package {name}\n"
    )


def publish(root: Path, key, packages: dict[str, str], date: datetime) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(stanza(n, v) for n, v in sorted(packages.items())).encode()
    xz = lzma.compress(text, preset=1)
    dist = root / "dists/bookworm"
    (dist / "main/binary-amd64").mkdir(parents=True, exist_ok=True)
    (dist / "main/binary-amd64/Packages.xz").write_bytes(xz)
    lines = []
    for section, algo in (("SHA256", hashlib.sha256), ("MD5Sum", hashlib.md5)):
        lines.append(f"{section}:")
        for path, data in (
            ("main/binary-amd64/Packages", text),
            ("main/binary-amd64/Packages.xz", xz),
        ):
            lines.append(f" {algo(data).hexdigest()} {len(data)} {path}")
    release = (
        f"Origin: Synthetic\nLabel: Synthetic\nSuite: bookworm\nCodename: bookworm\n"
        f"Date: {date.strftime('%a, %d %b %Y %H:%M:%S UTC')}\nArchitectures: amd64\n"
        f"Components: main\n" + "\n".join(lines) + "\n"
    ).encode()
    (dist / "InRelease").write_bytes(key.clearsign(release))


def db_size(home: Path) -> int:
    db = home / "repoversion.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    wal = Path(f"{db}-wal")
    return os.path.getsize(db) + (os.path.getsize(wal) if wal.exists() else 0)


def test_each_one_percent_version_adds_at_most_five_percent(mirror, gpg_key, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    packages = {f"pkg{i:05d}": "1.0-1" for i in range(COUNT)}
    root = tmp_path / "upstream"
    date = datetime(2025, 1, 1, tzinfo=UTC)
    publish(root, gpg_key, packages, date)
    keyring = gpg_key.write_keyring(tmp_path / "k.gpg")
    with ArchiveServer() as server:
        server.mount("synthetic", root)
        mirror.add_url("synthetic", f"{server.base_url}/synthetic", keyring)
        assert mirror.sync()["repoversion"] == "1.0.0"
        first = db_size(mirror.home)
        previous = first
        for round_ in range(1, 6):
            names = rng.sample(sorted(packages), COUNT // 100)
            for i, name in enumerate(names):
                if i % 3 == 0:
                    del packages[name]
                else:
                    packages[name] = f"1.{round_}-1"
            for i in range(COUNT // 300):
                packages[f"new{round_}-{i}"] = "1.0-1"
            date += timedelta(days=1)
            publish(root, gpg_key, packages, date)
            out = mirror.sync()
            assert out["new"] is True
            size = db_size(mirror.home)
            growth = size - previous
            assert growth <= 0.05 * first, (round_, growth, first)
            previous = size
    assert mirror.versions()[0] == "6.0.0"
