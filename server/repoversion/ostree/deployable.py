"""``compose --deployable``: the layout an ostree deployment boots (SPEC section 7).

An ostree deployment is a read-only ``/usr`` plus two places that are the machine's:
``/etc``, three-way merged from the commit's ``/usr/etc`` at each upgrade, and ``/var``,
shared by every deployment and never touched by an upgrade (the commit's own ``/var`` is
copied at most once). So, as Debian-based ostree builders (deb-ostree-builder, Endless
OS, Apertis) do:

- ``/etc`` moves to ``/usr/etc``;
- the dpkg database moves to ``/usr/share/dpkg/database`` (what those builders use;
  ``/usr/lib/sysimage`` is rpm-ostree's place for rpm's, with no Debian tool looking there)
  and ``/var/lib/dpkg`` becomes a relative symlink to it, so ``dpkg -l`` in a deployment
  reads the database of the commit it booted, not a copy in ``/var`` that upgrades
  would leave stale;
- everything else under ``/var`` moves to ``/usr/share/factory/var`` (systemd's place for
  pristine copies) and ``usr/lib/tmpfiles.d/repoversion-var.conf`` recreates it at boot:
  ``d`` for each directory directly under ``/var``, ``C`` (copy when missing) for what
  they hold, ``L`` for symlinks. Nothing under ``/var`` is needed before tmpfiles runs;
- the directories the FHS keeps writable become links into ``/var`` (``/home``,
  ``/root`` → ``var/roothome``, ``/opt``, ``/srv``, ``/mnt``, ``/usr/local`` →
  ``var/usrlocal``), their contents moved along; ``/sysroot`` and the ``/ostree`` →
  ``sysroot/ostree`` link exist as ostree's own layout asks;
- ``/dev``, ``/proc``, ``/sys`` and ``/run`` are empty directories (mounted at boot);
- a kernel a package installed as ``/boot/vmlinuz-<kver>`` is copied to
  ``/usr/lib/modules/<kver>/vmlinuz`` (and its initrd to ``initramfs.img``), where
  ``ostree admin deploy`` looks for it.

The commit's ``/var`` then holds only the ``lib/dpkg`` link (tmpfiles recreates it too).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from repoversion.errors import InvalidInput
from repoversion.ostree.rootfs import empty, inside, real_dir

DATABASE = "usr/share/dpkg/database"
FACTORY = "usr/share/factory/var"
TMPFILES = "usr/lib/tmpfiles.d/repoversion-var.conf"
#: top-level directories that become links into /var: (path, its place under var/)
PERSISTENT = (
    ("home", "home"),
    ("root", "roothome"),
    ("opt", "opt"),
    ("srv", "srv"),
    ("mnt", "mnt"),
    ("usr/local", "usrlocal"),
)
MOUNTED = ("dev", "proc", "sys", "run")


class NotDeployable(InvalidInput):
    """The tree cannot take the deployment layout (``/usr/etc`` exists already, …)."""

    code = "not_deployable"


def lay_out(root: Path) -> None:
    """Rearrange ``root`` in place.

    :raises NotDeployable: ``/usr`` is missing, or a path the layout needs is taken.
    """
    if real_dir(root, "usr") is None:
        raise NotDeployable("--deployable needs a /usr directory in the composed tree.")
    _move(root, "etc", "usr/etc")
    _move_database(root)
    for path, place in PERSISTENT:
        _persist(root, path, place)
    _factory_var(root)
    for name in MOUNTED:
        _fresh_dir(root, name, 0o755)
    _fresh_dir(root, "sysroot", 0o755)
    _link(root, "ostree", "sysroot/ostree")
    _kernels(root)


def _move(root: Path, src: str, dst: str) -> None:
    source, target = inside(root, src), inside(root, dst)
    if source is None or target is None or (target.exists() or target.is_symlink()):
        raise NotDeployable(f"--deployable cannot move /{src} to /{dst}: /{dst} exists already.")
    if source.exists() or source.is_symlink():
        source.rename(target)


def _move_database(root: Path) -> None:
    admin = real_dir(root, "var/lib/dpkg")
    if admin is None:
        return
    target = inside(root, DATABASE)
    if target is None or target.exists():
        raise NotDeployable(f"--deployable cannot move the dpkg database: /{DATABASE} exists.")
    target.parent.mkdir(parents=True, exist_ok=True)
    admin.rename(target)
    admin.symlink_to(os.path.relpath(target, admin.parent))


def _persist(root: Path, path: str, place: str) -> None:
    """``/path`` → a relative link to ``var/place``, its contents moved there (a path that
    is a link already is left alone)."""
    source = inside(root, path)
    var = real_dir(root, "var")
    if source is None or source.is_symlink() or var is None:
        return
    target = var / place
    if source.exists():
        if target.exists() or target.is_symlink():
            raise NotDeployable(f"--deployable cannot move /{path} to /var/{place}: it exists.")
        source.rename(target)
    else:
        target.mkdir(exist_ok=True)
        target.chmod(0o700 if place == "roothome" else 0o755)
    _link(root, path, f"var/{place}")


def _link(root: Path, path: str, to: str) -> None:
    link = inside(root, path)
    if link is None or link.exists() or link.is_symlink():
        return
    link.symlink_to(os.path.relpath(root / to, link.parent))


def _fresh_dir(root: Path, name: str, mode: int) -> None:
    path = root / name
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(exist_ok=True)
    empty(path)
    path.chmod(mode)


def _factory_var(root: Path) -> None:
    """Move ``/var``'s contents to the factory (renamed: owners and modes kept) and write
    the tmpfiles rules that bring them back; keep only the ``lib/dpkg`` link."""
    var = real_dir(root, "var")
    if var is None:
        return
    rules = [line for top in sorted(var.iterdir()) for line in _rules_for(var, top)]
    factory = root / FACTORY
    if factory.exists() or factory.is_symlink():
        raise NotDeployable(f"--deployable cannot move /var to /{FACTORY}: it exists.")
    factory.mkdir(parents=True)
    for child in sorted(var.iterdir()):
        child.rename(factory / child.name)
    dpkg_link = factory / "lib" / "dpkg"
    if dpkg_link.is_symlink():
        (var / "lib").mkdir(mode=0o755)
        dpkg_link.rename(var / "lib" / "dpkg")
    conf = root / TMPFILES
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        "# /var as this commit shipped it, made again at boot (repoversion compose --deployable)\n"
        + "".join(rules)
    )


def _rules_for(var: Path, path: Path) -> list[str]:
    """tmpfiles lines for ``path``: a directory directly under /var is created with its
    mode and owner and its children are copied when missing; symlinks are made again."""
    rel = path.relative_to(var).as_posix()
    if path.is_symlink():
        return [f"L /var/{rel} - - - - {os.readlink(path)}\n"]
    if "/" not in rel and path.is_dir():
        st = path.lstat()
        lines = [f"d /var/{rel} {st.st_mode & 0o7777:04o} {st.st_uid} {st.st_gid} -\n"]
        for child in sorted(path.iterdir()):
            lines += _rules_for(var, child)
        return lines
    return [f"C /var/{rel} - - - - /{FACTORY}/{rel}\n"]


def _kernels(root: Path) -> None:
    boot, modules = real_dir(root, "boot"), real_dir(root, "usr/lib/modules")
    if boot is None or modules is None:
        return
    for kernel in sorted(boot.glob("vmlinuz-*")):
        kver = kernel.name.removeprefix("vmlinuz-")
        target = real_dir(root, f"usr/lib/modules/{kver}")
        if target is None or kernel.is_symlink() or (target / "vmlinuz").exists():
            continue
        shutil.copy2(kernel, target / "vmlinuz")
        initrd = boot / f"initrd.img-{kver}"
        if initrd.is_file() and not initrd.is_symlink():
            shutil.copy2(initrd, target / "initramfs.img")
