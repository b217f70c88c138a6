"""apt's ``--snapshot`` kept on repoversion: Origin and Label in signed Releases, and the
apt.conf override lines ``run`` and the client lines print (SPEC section 1).

apt >= 2.7 consults ``Acquire::Snapshots::URI::Override::{Label,Origin}::…`` before a
Release's ``Snapshots`` field and ships one for ``Label: Debian-Security``; a verbatim
Release's field is upstream's; a Release with neither Origin nor Label gets no snapshot
server at all. The lines are read back with the real ``apt-config`` (apt.conf's parser is
the same in apt 2.6 and 3.0).
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from repoversion.aptsources.client import APT_CONF_NOTE, client_setup
from repoversion.archive.snapshots import override_line
from tests import test_run
from tests.fixtures.archives import Pkg
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import NOW

mirror = mirror_conftest.mirror  # the fixtures, shared with tests/mirror and test_run
start_run = test_run.start_run

KEY = "Acquire::Snapshots::URI::Override"


def _suite(origin: str | None, label: str | None) -> dict[str, Any]:
    return {
        "release": {"origin": origin, "label": label},
        "files": {"main/binary-amd64/Packages.xz": {}},
    }


def _index(**archives: tuple[str, str | None, str | None]) -> dict[str, Any]:
    """``name=(mode, origin, label)`` → an index.json with one suite per archive."""
    return {
        "repoversion": "1.4.0",
        "archives": {
            name.replace("_", "-"): {"mode": mode, "suites": {"bookworm": _suite(o, lab)}}
            for name, (mode, o, lab) in archives.items()
        },
    }


def _apt_config(tmp_path: Path, lines: list[str], *keys: str) -> list[str]:
    """What the real apt-config reads for ``keys`` from a file holding ``lines``."""
    conf = tmp_path / "apt.conf"
    conf.write_text("\n".join(lines) + "\n")
    args = [a for i, k in enumerate(keys) for a in (f"V{i}", k)]
    proc = subprocess.run(
        ["apt-config", "shell", *args],
        env={"APT_CONFIG": str(conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    return [values.get(f"V{i}", "").strip("'") for i in range(len(keys))]


def test_debian_security_mirrored_verbatim_is_keyed_by_its_label() -> None:
    """debian and debian-security share ``Origin: Debian``: only the Label tells them apart."""
    index = _index(
        debian=("signed", "Debian", "Debian"),
        debian_security=("verbatim", "Debian", "Debian-Security"),
    )
    setup = client_setup(index, "http://rv.example:8080/")
    assert setup.apt_conf == [
        f'{KEY}::Label::Debian-Security "http://rv.example:8080/v/@SNAPSHOTID@/debian-security/";'
    ]
    assert setup.apt_conf_block() == [APT_CONF_NOTE, *setup.apt_conf]


def test_signed_archives_need_no_line_unless_apt_overrides_their_label() -> None:
    setup = client_setup(
        _index(debian=("signed", "Debian", "Debian"), plain=("signed", None, None)), "http://rv"
    )
    assert setup.apt_conf == [] and setup.apt_conf_block() == []
    assert not any("--snapshot" in n for n in setup.notes)


def test_a_shared_label_falls_back_to_the_origin() -> None:
    setup = client_setup(
        _index(a=("verbatim", "Vendor A", "Tools"), b=("verbatim", "Vendor-B", "tools")),
        "http://rv",
    )
    assert setup.apt_conf == [
        f'{KEY}::Origin::"Vendor A" "http://rv/v/@SNAPSHOTID@/a/";',
        f'{KEY}::Origin::Vendor-B "http://rv/v/@SNAPSHOTID@/b/";',
    ]


def test_suites_no_setting_can_tell_apart_get_a_note_instead_of_a_line() -> None:
    setup = client_setup(
        _index(
            a=("verbatim", "Same", "Same"),
            b=("verbatim", "same", "SAME"),  # apt's keys are case-insensitive
            bare=("verbatim", None, None),
            # Debian-Security twice: apt's own Label setting outranks any Origin line
            s1=("signed", "One", "Debian-Security"),
            s2=("signed", "Two", "Debian-Security"),
        ),
        "http://rv",
    )
    assert setup.apt_conf == []
    snapshot_notes = sorted(n.split(":", 1)[0] for n in setup.notes if "--snapshot" in n)
    assert snapshot_notes == [f"# {a}/bookworm" for a in ("a", "b", "bare", "s1", "s2")]
    bare = next(n for n in setup.notes if n.startswith("# bare/"))
    assert "neither Origin nor Label" in bare


@pytest.mark.parametrize(
    "label", ["Vendor Tools", 'odd "quoted" 100% {label}; // #x', "Debian-Security"]
)
def test_override_lines_read_back_by_apt_config(tmp_path: Path, label: str) -> None:
    url = "http://rv.example/v/@SNAPSHOTID@/vb/"
    line = override_line("Label", label, url)
    # apt looks the key up as "…::Label::" + the Release's Label, case-insensitively
    assert _apt_config(tmp_path, [line], f"{KEY}::Label::{label.upper()}") == [url]


def test_run_prints_the_lines_and_signed_releases_carry_origin_and_label(
    tmp_path: Path, mirror, fixture_archive, start_run
) -> None:  # type: ignore[no-untyped-def]
    archives = {
        "debian": fixture_archive([Pkg("a", "1")], name="debian", origin="Debian", label="Debian"),
        "debian-security": fixture_archive(
            [Pkg("b", "1")], name="debian-security", origin="Debian", label="Debian-Security"
        ),
        "vb": fixture_archive([Pkg("c", "1")], name="vb", origin="Vendor", label="Vendor Tools"),
        "plain": fixture_archive([Pkg("d", "1")], name="plain", origin="", label=""),
    }
    for name, arc in archives.items():
        mirror.add(arc, *(["--mode", "verbatim"] if name == "vb" else []))
    running = start_run(mirror.home, REPOVERSION_NOW=NOW)
    base = running.base
    releases = {name: _fetch(f"{base}/v/1.0.0/{name}/dists/bookworm/Release") for name in archives}
    out, err = running.stop()

    assert "New repoversion 1.0.0" in err
    lines = out.splitlines()
    wanted = [
        APT_CONF_NOTE,
        f'{KEY}::Label::Debian-Security "{base}/v/@SNAPSHOTID@/debian-security/";',
        f'{KEY}::Label::"Vendor Tools" "{base}/v/@SNAPSHOTID@/vb/";',
    ]
    start = lines.index(APT_CONF_NOTE)
    assert lines[start : start + 3] == wanted
    assert not [line for line in lines[start + 3 :] if line.startswith("Acquire::")]
    plain = f"deb [signed-by=/etc/apt/keyrings/repoversion.gpg] {base}/v/1.0.0/plain bookworm main"
    assert lines.index(plain) < start
    # the printed lines, in a real apt.conf, give apt those URLs for those Labels
    assert _apt_config(
        tmp_path, wanted[1:], f"{KEY}::Label::Debian-Security", f"{KEY}::Label::Vendor Tools"
    ) == [f"{base}/v/@SNAPSHOTID@/debian-security/", f"{base}/v/@SNAPSHOTID@/vb/"]

    # a signed Release whose upstream has neither gets both; upstream's are kept
    assert "\nOrigin: repoversion\nLabel: plain\n" in "\n" + releases["plain"]
    assert "\nOrigin: Debian\nLabel: Debian-Security\n" in "\n" + releases["debian-security"]
    assert f"\nSnapshots: {base}/v/@SNAPSHOTID@/plain/\n" in releases["plain"]
    # verbatim: upstream's own bytes, untouched
    assert releases["vb"] == archives["vb"].read("dists/bookworm/Release").decode()


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode())
