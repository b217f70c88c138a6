"""A root composed from a real lockfile runs its program in a chroot.

Opt-in (``make test-online``): the archive is the one this machine's apt sources name,
read from /etc/apt/sources.list.d/ at run time; nothing here names a host. ``hello`` is
locked with Debian 12's Essential packages (what its maintainer scripts may use without
depending on it, so apt never lists them as dependencies: ``sh``, ``sed``, ``dpkg``…),
composed with ``--configure``, checked out, and ``/usr/bin/hello`` runs in a chroot of
the checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from repoversion.aptsources.host import read_system_sources

pytestmark = pytest.mark.online

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
#: the packages bookworm marks ``Essential: yes``
ESSENTIAL = [
    *("base-files", "base-passwd", "bash", "bsdutils", "coreutils", "dash", "debianutils"),
    *("diffutils", "dpkg", "findutils", "grep", "gzip", "hostname", "init-system-helpers"),
    *("libc-bin", "login", "ncurses-base", "ncurses-bin", "perl-base", "sed"),
    *("sysvinit-utils", "tar", "util-linux"),
]


def test_hello_runs_in_a_configured_compose(mirror, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    debian = next((a for a in read_system_sources() if "bookworm" in a.suites), None)
    assert debian is not None, "this machine's apt sources have no bookworm archive"
    mirror.env["REPOVERSION_NOW"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mirror.add_url("debian", debian.url, KEYRING)
    assert mirror.sync()["repoversion"] == "1.0.0"
    lockfile = tmp_path / "hello.lock.json"
    locked = mirror.cli(
        "lock", "--version", "1.0.0", "--arch", "amd64", "hello", *ESSENTIAL, "-o", str(lockfile)
    )
    assert locked.code == 0, locked.stderr
    names = {p["name"] for p in json.loads(lockfile.read_text())["packages"]}
    assert {"hello", "libc6", *ESSENTIAL} <= names
    result = mirror.cli(
        "ostree", "compose", "--lockfile", str(lockfile), "--ref", "debian/hello", "--configure",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    commit = json.loads(result.stdout)["commit"]
    root = tmp_path / "root"
    repo = mirror.home / "ostree"
    subprocess.run(["ostree", "checkout", f"--repo={repo}", commit, str(root)], check=True)
    listed = subprocess.run(
        ["dpkg", f"--root={root}", "-l"], capture_output=True, text=True, check=True
    ).stdout
    installed = {line.split()[1].split(":")[0] for line in listed.splitlines() if line[:3] == "ii "}
    assert installed == names
    ran = subprocess.run(
        [str(shutil.which("chroot")), str(root), "/usr/bin/hello"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "Hello, world!\n"
