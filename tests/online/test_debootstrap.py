"""debootstrap --variant=minbase from this machine's Debian sources, through repoversion.

Opt-in (``make test-online``): it talks to the mirror this machine's apt sources name,
read from /etc/apt/sources.list.d/, with policy on_demand; nothing here names a host.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from repoversion.aptsources.host import read_system_sources

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
    # every .deb it installed came through repoversion and was verified on the way
    assert server.get("/metrics").status_code == 200
