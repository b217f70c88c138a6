"""apt's own ``--snapshot`` pinned to repoversions, with trixie's apt 3.0 in a real root.

Opt-in (``make test-online``): the root is debootstrapped once from the Debian mirror this
machine's apt sources name (read from /etc/apt/sources.list.d/, never written into a
file here) and cached under ``~/.cache/repoversion-tests/``; each run copies it. The
repoversion server holds three versions of three small fixture archives:

- ``fx``: signed, upstream's Release without Origin and Label (so repoversion's names
  both, or apt would find no snapshot server for it): apt follows its ``Snapshots`` field;
- ``sec``: signed with ``Label: Debian-Security``, which apt's own
  ``Override::Label::Debian-Security`` would send to snapshot.debian.org;
- ``vb``: verbatim (upstream's Release, without a ``Snapshots`` field);

and the root's apt points at ``/v/latest/<archive>`` with the apt.conf lines
:func:`~repoversion.aptsources.client.client_setup` prints for the last two.
``apt-get update --snapshot X`` then ``apt-get install --snapshot X`` must install exactly
version X's packages, for X a timestamp as ``versions`` prints it, an ``X.Y.Z`` and a tag.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from repoversion.aptsources.client import client_setup
from repoversion.aptsources.host import read_system_sources
from tests.fixtures.archives import Pkg

pytestmark = pytest.mark.online

CACHE = Path.home() / ".cache" / "repoversion-tests" / "trixie-minbase"
PACKAGES = {"fx": "hello", "sec": "sec-tool", "vb": "vb-tool"}
CHROOT_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "DEBIAN_FRONTEND": "noninteractive",
}


@pytest.fixture(scope="session")
def trixie_root() -> Path:
    """A minbase trixie root, made once and kept in :data:`CACHE` (no sources, no lists)."""
    if (CACHE / "usr" / "bin" / "apt-get").exists():
        return CACHE
    debian = next((a for a in read_system_sources() if "bookworm" in a.suites), None)
    assert debian is not None, "this machine's apt sources have no bookworm archive"
    assert shutil.which("debootstrap"), "debootstrap is not installed"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="trixie-", dir=CACHE.parent))
    try:
        root = scratch / "root"
        proc = subprocess.run(
            ["debootstrap", "--variant=minbase", "trixie", str(root), debian.url],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        # the cached root names no mirror: each test writes the sources it means
        (root / "etc/apt/sources.list").write_text("")
        shutil.rmtree(root / "var/lib/apt/lists")
        (root / "var/lib/apt/lists/partial").mkdir(parents=True)
        with contextlib.suppress(OSError):  # another run cached one meanwhile: use that
            root.rename(CACHE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return CACHE


def test_apt_snapshot_installs_exactly_that_versions_packages(
    mirror, serve, server_key, fixture_archive, trixie_root, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    archives = {
        "fx": fixture_archive(name="fx", origin="", label=""),
        "sec": fixture_archive(name="sec", label="Debian-Security"),
        "vb": fixture_archive(name="vb", label="Fixture Verbatim"),
    }
    del mirror.env["REPOVERSION_NOW"]  # versions get the real clock, microseconds and all
    for name, arc in archives.items():
        mirror.add(arc, *(["--mode", "verbatim"] if name == "vb" else []))
    for number, upstream in (("1.0.0", "1.0"), ("1.1.0", "2.0"), ("1.2.0", "3.0")):
        for name, arc in archives.items():
            arc.add(Pkg(PACKAGES[name], upstream))
            arc.publish()
        _next_second()  # so a version's timestamp names it, not the next one
        assert mirror.sync()["repoversion"] == number
    assert mirror.cli("tag", "pinned", "1.1.0").code == 0
    versions = json.loads(mirror.cli("versions", "--json").stdout)
    created = {v["repoversion"]: v["created"] for v in versions}
    timestamp = created["1.1.0"].replace("-", "").replace(":", "")  # 2026-…T…Z → apt's form

    server = serve(REPOVERSION_NOW=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    index = server.get("/v/latest/index.json").json()
    setup = client_setup(index, server.url)
    assert len(setup.apt_conf) == 2, setup.apt_conf  # sec (apt's own setting) and vb
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", "--reflink=auto", str(trixie_root), str(root)], check=True)
    keyrings = root / "etc/apt/keyrings"
    keyrings.mkdir(parents=True, exist_ok=True)
    shutil.copy(server_key, keyrings / "repoversion.gpg")
    shutil.copy(archives["vb"].keyring_path, keyrings / "vb.gpg")
    sources = [line.replace(f"/v/{index['repoversion']}/", "/v/latest/") for line in setup.lines]
    (root / "etc/apt/sources.list.d/repoversion.list").write_text("\n".join(sources) + "\n")
    _apt(root, "update")

    # without the printed lines, apt 3.0 takes sec's snapshots from snapshot.debian.org
    uris = _apt(root, "update", "--print-uris", "--snapshot", "1.0.0").stdout
    assert "snapshot.debian.org/archive/debian-security/1.0.0/" in uris, uris
    (root / "etc/apt/apt.conf.d/50repoversion").write_text("\n".join(setup.apt_conf) + "\n")

    for ref, upstream in ((timestamp, "2.0"), ("1.0.0", "1.0"), ("pinned", "2.0")):
        _chroot(root, "dpkg", "--purge", *PACKAGES.values())
        _apt(root, "update", "--snapshot", ref)
        _apt(root, "install", "-y", "--snapshot", ref, *PACKAGES.values())
        shown = _chroot(root, "dpkg-query", "-W", "-f", "${Package} ${Version}\\n").stdout
        installed = dict(line.split() for line in shown.splitlines())
        assert {p: installed.get(p) for p in PACKAGES.values()} == dict.fromkeys(
            PACKAGES.values(), upstream
        ), f"--snapshot {ref}"


def _next_second() -> None:
    """Wait until the wall clock is in a later whole second than now."""
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.01)


def _chroot(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["chroot", str(root), *argv],
        env=CHROOT_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc


def _apt(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``apt-get`` in the root, as root (apt's sandbox user may not read the test's files)."""
    return _chroot(root, "apt-get", "-q", "-o", "APT::Sandbox::User=root", *args)
