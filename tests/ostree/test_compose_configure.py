"""``compose --configure`` runs the maintainer scripts in a chroot; ``--deployable`` lays the
tree out as an ostree deployment boots it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.archives import Pkg
from tests.mirror.conftest import mirror  # noqa: F401 - the fixture
from tests.ostree.composing import Composer, dpkg_states, package_names, shell_package, synced

POSTINST = b"""#!/bin/sh
set -e
echo "configured $1" > /etc/tool.state
if [ -x /usr/sbin/policy-rc.d ]; then echo denied > /etc/tool.policy; fi
echo 0123456789abcdef > /etc/machine-id
echo secret > /etc/ssh/ssh_host_ed25519_key
echo log > /var/log/tool/tool.log
echo cache > /var/cache/tool/more
"""


def packages() -> list[Pkg]:
    return [
        shell_package(),
        Pkg(
            "base",
            "1.0-1",
            files={"etc/base.conf": b"x = 1\n", "usr/sbin/base-helper": b"helper\n"},
            control_files={"conffiles": b"/etc/base.conf\n"},
        ),
        Pkg(
            "tool",
            "2.0-1",
            pre_depends="shell",
            depends="base",
            files={
                "usr/bin/tool": b"tool\n",
                "etc/ssh/ssh_config": b"# client\n",
                "var/log/tool/README": b"logs\n",
                "var/cache/tool/index": b"cached\n",
                "var/lib/tool/state": b"shipped\n",
                "root/.profile": b"# root's\n",
            },
            control_files={
                "preinst": b'#!/bin/sh\necho "preinst $1" > /etc/tool.preinst\n',
                "postinst": POSTINST,
            },
        ),
        Pkg("lonely", "1.0-1", control_files={"postinst": b"#!/bin/sh\nexit 0\n"}),
        Pkg(
            "broken",
            "1.0-1",
            depends="shell",
            control_files={"postinst": b"#!/bin/sh\necho 'broken: cannot go on' >&2\nexit 3\n"},
        ),
    ]


@pytest.fixture
def composer(mirror, fixture_archive, tmp_path: Path) -> Composer:  # type: ignore[no-untyped-def]  # noqa: F811
    synced(mirror, fixture_archive, packages())
    return Composer(mirror, tmp_path)


def test_configure_runs_preinst_and_postinst_and_drops_machine_files(composer: Composer) -> None:
    lockfile = composer.lock("tool")
    result = composer.compose(lockfile, "rv/configured", "--configure")
    assert result["configured"] is True
    root = composer.checkout("rv/configured")
    assert dpkg_states(root) == {name: "ii" for name in package_names(lockfile)}
    assert (root / "etc/tool.preinst").read_text() == "preinst install\n"
    assert (root / "etc/tool.state").read_text() == "configured configure\n"
    assert (root / "etc/tool.policy").read_text() == "denied\n", "services were not denied"
    assert not (root / "usr/sbin/policy-rc.d").exists()
    for gone in ("etc/machine-id", "etc/ssh/ssh_host_ed25519_key"):
        assert not (root / gone).exists(), gone
    assert (root / "etc/ssh/ssh_config").exists()
    assert list((root / "var/log").iterdir()) == []
    assert list((root / "var/cache").iterdir()) == []
    assert (root / "var/lib/tool/state").read_text() == "shipped\n"
    # merged /usr, as Debian 12 installs: the shell package's /bin and /lib* moved
    assert os.readlink(root / "bin") == "usr/bin" and (root / "usr/bin/sh").is_file()
    assert os.readlink(root / "lib64") == "usr/lib64"
    status = (root / "var/lib/dpkg/status").read_text()
    assert "Status: install ok installed" in status
    assert "/etc/base.conf" in status and "newconffile" not in status


def test_a_failing_postinst_fails_the_compose_and_moves_no_ref(composer: Composer) -> None:
    message = composer.fails(composer.lock("broken"), "rv/broken", "--configure")
    assert message.startswith("error: dpkg --configure -a failed in the composed root (exit 1)")
    assert not (composer.repo / "refs/heads/rv").exists()
    leftovers = [p for p in (composer.repo / "tmp").iterdir() if "compose" in p.name]
    assert leftovers == []


def test_deployable_layout(composer: Composer) -> None:
    lockfile = composer.lock("tool")
    composer.compose(lockfile, "rv/deploy", "--deployable")
    root = composer.checkout("rv/deploy")
    assert not (root / "etc").exists()
    assert (root / "usr/etc/base.conf").read_text() == "x = 1\n"
    link = root / "var/lib/dpkg"
    assert link.is_symlink() and os.readlink(link) == "../../usr/share/dpkg/database"
    assert (root / "usr/share/dpkg/database/status").is_file()
    assert dpkg_states(root) == {name: "iU" for name in package_names(lockfile)}
    # nothing else under /var: tmpfiles.d brings it back at boot
    assert sorted(str(p.relative_to(root)) for p in (root / "var").rglob("*")) == [
        "var/lib",
        "var/lib/dpkg",
    ]
    rules = (root / "usr/lib/tmpfiles.d/repoversion-var.conf").read_text().splitlines()
    assert "L /var/lib/dpkg - - - - ../../usr/share/dpkg/database" in rules
    assert "d /var/lib 0755 0 0 -" in rules
    factory = "/usr/share/factory/var"
    assert f"C /var/lib/tool - - - - {factory}/lib/tool" in rules
    assert f"C /var/roothome/.profile - - - - {factory}/roothome/.profile" in rules
    assert "d /var/roothome 0755 0 0 -" in rules  # the mode the package gave /root
    assert (root / "usr/share/factory/var/lib/tool/state").read_text() == "shipped\n"
    for path, target in (
        ("home", "var/home"),
        ("root", "var/roothome"),
        ("usr/local", "../var/usrlocal"),
        ("ostree", "sysroot/ostree"),
    ):
        assert os.readlink(root / path) == target, path
    for name in ("sysroot", "dev", "proc", "sys", "run"):
        assert (root / name).is_dir() and not list((root / name).iterdir()), name


def test_configure_and_deployable_together(composer: Composer) -> None:
    lockfile = composer.lock("tool")
    composer.compose(lockfile, "rv/both", "--configure", "--deployable")
    root = composer.checkout("rv/both")
    assert (root / "usr/etc/tool.state").read_text() == "configured configure\n"
    assert dpkg_states(root) == {name: "ii" for name in package_names(lockfile)}


def test_configure_without_root_is_one_sentence(
    composer: Composer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lockfile = composer.lock("tool")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    message = composer.fails(lockfile, "rv/user", "--configure")
    assert message == (
        "error: --configure needs root (the tree is checked out with its owners, and "
        "configured in a chroot); run compose as root or without it."
    )
    assert not (composer.repo / "refs/heads/rv").exists()


def test_scripts_without_a_shell_are_one_sentence(composer: Composer) -> None:
    message = composer.fails(composer.lock("lonely"), "rv/lonely", "--configure")
    assert message == (
        "error: The composed root has no /bin/sh to run the maintainer scripts of lonely "
        "(1.0-1) and others with; lock Debian's Essential packages too (dash, coreutils, sed…)."
    )
