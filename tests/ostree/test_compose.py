"""``ostree compose``: a root of fixture packages, checked out and read with dpkg itself."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import mirror, mirror_on_db  # noqa: F401 - the fixtures
from tests.ostree.composing import Composer, dpkg_states, package_names, shell_package, synced

BASE_CONF = b"# base's settings\nanswer = 42\n"
MD5SUMS = b"0123456789abcdef0123456789abcdef  usr/share/base/a.txt\n"


def packages() -> list[Pkg]:
    return [
        shell_package(),
        Pkg(
            "base",
            "1.0-1",
            files={"usr/share/base/a.txt": b"a\n", "etc/base.conf": BASE_CONF},
            control_files={
                "conffiles": b"/etc/base.conf\n",
                "md5sums": MD5SUMS,
                "triggers": b"# comment\ninterest-noawait /usr/share/base\ninterest base-trigger\n",
            },
        ),
        Pkg(
            "libthing",
            "1.0-1",
            multi_arch="same",
            files={"usr/lib/x86_64-linux-gnu/libthing.so.1": b"\x7fELF not really\n"},
            control_files={"triggers": b"activate-noawait ldconfig\n"},
        ),
        Pkg(
            "tool",
            "2.0-1",
            depends="base, libthing, shell",
            files={"usr/bin/tool": b"#!/bin/sh\necho tool\n"},
            control_files={
                "postinst": b'#!/bin/sh\nset -e\necho configured "$1" > /etc/tool.state\n'
            },
        ),
    ]


@pytest.fixture
def composer(mirror, fixture_archive, tmp_path: Path) -> Composer:  # type: ignore[no-untyped-def]  # noqa: F811
    synced(mirror, fixture_archive, packages())
    return Composer(mirror, tmp_path)


def test_composed_root_is_what_dpkg_unpacked(composer: Composer) -> None:
    lockfile = composer.lock("tool")
    names = package_names(lockfile)
    assert names == {"shell", "base", "libthing", "tool"}
    result = composer.compose(lockfile, "rv/tools")
    assert result["ref"] == "rv/tools" and result["packages"] == 4
    assert composer.ostree("rev-parse", "rv/tools").strip() == result["commit"]

    root = composer.checkout("rv/tools")
    assert dpkg_states(root) == {name: "iU" for name in names}
    assert (root / "usr/bin/tool").read_bytes() == b"#!/bin/sh\necho tool\n"
    assert (root / "etc/base.conf").read_bytes() == BASE_CONF
    admin = root / "var/lib/dpkg"
    assert (admin / "arch").read_text() == "amd64\n"
    # Multi-Arch: same packages are filed under name:arch, as dpkg does
    listed = (admin / "info/libthing:amd64.list").read_text().splitlines()
    assert listed[0] == "/." and "/usr/lib/x86_64-linux-gnu/libthing.so.1" in listed
    assert "/usr" in listed and "/usr/lib" in listed
    tool_list = (admin / "info/tool.list").read_text().splitlines()
    assert tool_list[0] == "/." and "/usr/bin/tool" in tool_list
    assert (admin / "info/base.md5sums").read_bytes() == MD5SUMS
    assert (admin / "info/base.conffiles").read_bytes() == b"/etc/base.conf\n"
    postinst = admin / "info/tool.postinst"
    assert postinst.read_bytes().startswith(b"#!/bin/sh") and postinst.stat().st_mode & 0o111
    assert "/usr/share/base base/noawait\n" in (admin / "triggers/File").read_text()
    assert (admin / "triggers/base-trigger").read_text() == "base\n"
    status = _stanzas((admin / "status").read_text())
    assert {s["Package"] for s in status} == names
    assert {s["Status"] for s in status} == {"install ok unpacked"}
    base = next(s for s in status if s["Package"] == "base")
    md5 = hashlib.md5(BASE_CONF).hexdigest()
    assert base["Conffiles"] == f"\n /etc/base.conf {md5}"
    # dpkg's own reading of the same database
    query = subprocess.run(
        ["dpkg-query", f"--root={root}", "-W", "-f=${Package} ${Version} ${db:Status-Status}\n"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tool 2.0-1 unpacked" in query.stdout.splitlines()


def test_commit_metadata_row_and_reproducibility(composer: Composer) -> None:
    lockfile = composer.lock("tool")
    lock = json.loads(lockfile.read_text())
    first = composer.compose(lockfile, "rv/meta")
    assert composer.metadata("rv/meta", "version") == "1.0.0"
    assert composer.metadata("rv/meta", "repoversion.state") == lock["state"]
    assert json.loads(composer.metadata("rv/meta", "repoversion.lockfile")) == lock
    assert composer.metadata("rv/meta", "ostree.ref-binding") == ["rv/meta"]
    again = composer.compose(lockfile, "rv/meta")
    assert again["commit"] == first["commit"], "the same lockfile composes to the same commit"
    composer.ostree("fsck")
    with sqlite3.connect(composer.mirror.home / "repoversion.db") as con:
        rows = con.execute(
            'SELECT ref, "commit", repoversion_id, debs FROM ostree_compose ORDER BY id'
        ).fetchall()
    assert len(rows) == 2
    ref, commit, version_id, debs = rows[0]
    assert (ref, commit, version_id) == ("rv/meta", first["commit"], 1)
    assert sorted(json.loads(debs)) == sorted(p["sha256"] for p in lock["packages"])


def test_compose_is_recorded_on_both_databases(  # type: ignore[no-untyped-def]
    mirror_on_db,  # noqa: F811
    db_url: str,
    fixture_archive,
    tmp_path: Path,
) -> None:
    from sqlalchemy import create_engine, select

    from repoversion.db.models import OstreeCompose

    synced(mirror_on_db, fixture_archive, packages())
    composer = Composer(mirror_on_db, tmp_path)
    lockfile = composer.lock("base")
    commit = composer.compose(lockfile, "rv/db")["commit"]
    engine = create_engine(db_url)
    try:
        with engine.connect() as con:
            rows = con.execute(select(OstreeCompose.ref, OstreeCompose.commit)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("rv/db", commit)]


def test_pulled_with_signature_verification(composer: Composer, tmp_path: Path) -> None:
    lockfile = composer.lock("base")
    commit = composer.compose(lockfile, "rv/signed")["commit"]
    client = tmp_path / "client"
    key = composer.mirror.home / "keys" / "repoversion.asc"

    def ostree(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ostree", args[0], f"--repo={client}", *args[1:]], capture_output=True, text=True
        )

    assert ostree("init", "--mode=bare-user").returncode == 0
    added = ostree("remote", "add", f"--gpg-import={key}", "rv", f"file://{composer.repo}")
    assert added.returncode == 0, added.stderr
    pulled = ostree("pull", "rv", "rv/signed")
    assert pulled.returncode == 0, pulled.stderr
    assert ostree("rev-parse", "rv:rv/signed").stdout.strip() == commit
    verified = ostree("show", "--gpg-verify-remote=rv", commit)
    assert "Good signature" in verified.stdout, verified.stdout + verified.stderr


def test_bad_requests_are_one_sentence(composer: Composer, tmp_path: Path) -> None:
    lockfile = composer.lock("base")
    assert "not a valid ostree ref" in composer.fails(lockfile, "../up")
    assert "under dpkg/" in composer.fails(lockfile, "dpkg/data/mine")
    lock: dict[str, Any] = json.loads(lockfile.read_text())
    other = tmp_path / "other.lock.json"
    other.write_text(json.dumps({**lock, "repoversion": "9.9.9"}))
    assert "9.9.9 is not in this home" in composer.fails(other, "rv/x")
    other.write_text(json.dumps({**lock, "state": "sha256:" + "0" * 64}))
    assert "resolved on another server" in composer.fails(other, "rv/x")
    other.write_text("{not json")
    assert "not a JSON lockfile" in composer.fails(other, "rv/x")
    assert not (composer.repo / "refs/heads/rv").exists()


def _stanzas(text: str) -> list[dict[str, str]]:
    out = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        name = ""
        for line in block.splitlines():
            if line.startswith(" "):
                fields[name] += "\n" + line
            else:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        out.append(fields)
    return out
