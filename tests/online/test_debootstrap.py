"""debootstrap --variant=minbase from this machine's Debian sources, through repoversion.

Opt-in (``make test-online``): it talks to the mirror this machine's apt sources name,
read from /etc/apt/sources.list.d/, with policy on_demand; nothing here names a host.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime

import pytest

from repoversion.aptsources.host import read_system_sources
from repoversion.storage import FileSystemStore

pytestmark = pytest.mark.online


def test_debootstrap_minbase_through_repoversion(mirror, serve, server_key, tmp_path) -> None:  # type: ignore[no-untyped-def]
    debian = next((a for a in read_system_sources() if "bookworm" in a.suites), None)
    assert debian is not None, "this machine's apt sources have no bookworm archive"
    assert shutil.which("debootstrap"), "debootstrap is not installed"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mirror.env["REPOVERSION_NOW"] = now
    mirror.add_url("debian", debian.url, "/usr/share/keyrings/debian-archive-keyring.gpg")
    assert mirror.sync()["repoversion"] == "1.0.0"
    server = serve(REPOVERSION_NOW=now)
    target = tmp_path / "root"
    proc = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--keyring={server_key}",
            "bookworm",
            str(target),
            f"{server.url}/v/1.0.0/debian",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (target / "usr/bin/dpkg").exists()
    status = (target / "var/lib/dpkg/status").read_text()
    assert "Package: base-files" in status
    # every .deb it installed came through repoversion: stored (so verified against the
    # SHA256 its Packages lists, as fetch-through stores nothing else) and recorded
    listed = {
        (p["name"], p["version"], p["architecture"]): p["sha256"]
        for p in server.get("/v/1.0.0/packages.json").json()
        if p["architecture"] != "source"
    }
    installed = [
        (fields["Package"], fields["Version"], fields["Architecture"])
        for fields in map(_fields, status.strip().split("\n\n"))
    ]
    assert len(installed) > 50
    store = FileSystemStore(mirror.home / "blobs")
    missing = [p for p in installed if not store.exists(listed[p])]
    assert not missing, f"installed but not fetched through repoversion: {missing}"
    with sqlite3.connect(mirror.home / "repoversion.db") as con:
        recorded = {row[0] for row in con.execute("SELECT sha256 FROM blob")}
    assert {listed[p] for p in installed} <= recorded


def _fields(stanza: str) -> dict[str, str]:
    """The single-line fields of one dpkg status stanza."""
    return dict(
        line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
    )
