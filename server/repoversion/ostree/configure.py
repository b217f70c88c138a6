"""``compose --configure``: run the maintainer scripts in the composed root, as dpkg would.

The files are already in place and every package is ``unpacked``, which is where
``dpkg --unpack`` leaves a system. What dpkg would have run before unpacking is each new
package's ``preinst install``: that runs first, dependencies (Pre-Depends, then Depends)
before their dependents. Then ``dpkg --configure -a`` runs the ``postinst configure``
scripts in dpkg's own order, with the triggers they activate: the root's own dpkg inside
a chroot, or this machine's ``dpkg --root`` when the lockfile has no dpkg (dpkg then runs
each script in a chroot itself).

Everything runs as root in a private mount namespace (``unshare --mount``): a small
``/dev`` (null, zero, full, random, urandom, tty) and ``/proc`` are mounted inside the
root and vanish with the namespace, even if this process is killed. A ``policy-rc.d``
that denies every service start is in place while the scripts run, as in debootstrap and
image builders. Afterwards what only describes the machine that built the tree is
removed (:data:`MACHINE_FILES`, the contents of ``/var/cache`` and ``/var/log``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from repoversion.errors import RepoversionError
from repoversion.ostree.members import Member
from repoversion.ostree.rootfs import empty, real_dir

#: files that identify one machine: systemd's and D-Bus's machine id, ssh host keys
MACHINE_FILES = ("etc/machine-id", "var/lib/dbus/machine-id", "etc/ssh/ssh_host_*")
#: directories whose contents belong to the machine that ran the scripts
EMPTIED = ("var/cache", "var/log", "tmp", "var/tmp")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: the maintainer scripts dpkg runs at install and configure time
SCRIPTS = ("preinst", "postinst")
#: seconds the scripts of one compose may take
TIMEOUT = 3600

# Runs in the new mount namespace: $1 is the root, $2 "chroot" or "host", then the command.
_ENTER = r"""
set -e
root=$1; how=$2; shift 2
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for node in null zero full random urandom tty; do
    : > "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t proc proc "$root/proc"
if [ "$how" = chroot ]; then exec chroot "$root" "$@"; else exec "$@"; fi
"""


class CannotConfigure(RepoversionError):
    """This machine cannot run the scripts (not root, no ``unshare`` or ``chroot``)."""

    code = "cannot_configure"
    status = 500


class ConfigureFailed(RepoversionError):
    """A maintainer script (or dpkg) failed in the composed root."""

    code = "configure_failed"
    status = 422


def require_root(option: str) -> None:
    """:raises CannotConfigure: not root, or a tool is missing."""
    if os.geteuid() != 0:
        raise CannotConfigure(
            f"{option} needs root (the tree is checked out with its owners, and configured "
            "in a chroot); run compose as root or without it."
        )
    missing = [t for t in ("unshare", "chroot", "mount") if shutil.which(t) is None]
    if missing:
        raise CannotConfigure(f"{option} needs {', '.join(missing)}, which is not installed here.")


def configure(root: Path, members: Sequence[Member]) -> None:
    """Run ``preinst install`` of each package, then ``dpkg --configure -a``, in ``root``;
    then remove what is specific to this machine.

    :raises ConfigureFailed: a script or dpkg failed (its last words in the sentence).
    """
    _mount_points(root)
    _have_shell(root, members)
    with _services_denied(root):
        for member in install_order(members):
            _preinst(root, member)
        _dpkg_configure(root)
    remove_machine_files(root)


def _have_shell(root: Path, members: Sequence[Member]) -> None:
    """:raises ConfigureFailed: there are maintainer scripts but no ``/bin/sh`` to run
    them with (Debian's scripts may rely on Essential packages without depending on them)."""
    scripts = [m for m in members if any(m.control_file(s) for s in SCRIPTS)]
    if scripts and not _exists_in(root, "bin/sh"):
        raise ConfigureFailed(
            f"The composed root has no /bin/sh to run the maintainer scripts of "
            f"{scripts[0].label} and others with; lock Debian's Essential packages too "
            "(dash, coreutils, sed…)."
        )


def _exists_in(root: Path, rel: str) -> bool:
    """Whether ``rel`` exists in ``root`` with its symlinks resolved inside the root, as
    the chroot will see them (never on this machine).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "usr/bin").mkdir(parents=True); (root / "usr/bin/dash").touch()
    >>> (root / "bin").symlink_to("usr/bin"); (root / "usr/bin/sh").symlink_to("/bin/dash")
    >>> _exists_in(root, "bin/sh"), _exists_in(root, "bin/bash")
    (True, False)
    """
    parts, path, links = list(Path(rel).parts), root, 0
    while parts:
        part = parts.pop(0)
        path = (path.parent if path != root else root) if part == ".." else path / part
        if path.is_symlink():
            links += 1
            if links > 40:
                return False
            target = os.readlink(path)
            path = root if target.startswith("/") else path.parent
            parts = [p for p in Path(target).parts if p != "/"] + parts
    return path.exists()


@contextmanager
def _services_denied(root: Path) -> Iterator[None]:
    """A ``policy-rc.d`` answering 101 (action forbidden) while the block runs, unless
    the root has its own."""
    sbin = real_dir(root, "usr/sbin")
    policy = sbin / "policy-rc.d" if sbin is not None else None
    if policy is None or policy.exists() or policy.is_symlink():
        yield
        return
    policy.write_text(
        "#!/bin/sh\n# repoversion compose: no service starts while configuring\nexit 101\n"
    )
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _mount_points(root: Path) -> None:
    """``/dev``, ``/proc`` and ``/tmp`` as real directories of the root.

    :raises ConfigureFailed: one of them is something else (a symlink would put the
        mounts on this machine's directories).
    """
    for name, mode in (("dev", 0o755), ("proc", 0o555), ("tmp", 0o1777)):
        path = root / name
        if not path.exists() and not path.is_symlink():
            path.mkdir()
            path.chmod(mode)
        if real_dir(root, name) is None:
            raise ConfigureFailed(f"The composed root's /{name} is not a directory.")


def install_order(members: Sequence[Member]) -> list[Member]:
    """Dependencies before dependents (Pre-Depends, then Depends), otherwise in lockfile
    order; a cycle is entered at its first lockfile entry, as dpkg breaks one somewhere."""
    by_name = {m.name: m for m in members}
    for m in members:
        for name, _, _ in m.relations("Provides"):
            by_name.setdefault(name, m)
    done: set[int] = set()
    out: list[Member] = []

    def visit(member: Member, path: set[int]) -> None:
        if member.index in done or member.index in path:
            return
        path.add(member.index)
        for field in ("Pre-Depends", "Depends"):
            for name, _, _ in member.relations(field):
                dep = by_name.get(name)
                if dep is not None:
                    visit(dep, path)
        done.add(member.index)
        out.append(member)

    for member in members:
        visit(member, set())
    return out


def _env(**extra: str) -> dict[str, str]:
    return {
        "PATH": PATH,
        "LC_ALL": "C",
        "HOME": "/root",
        "DEBIAN_FRONTEND": "noninteractive",
        "DEBCONF_NONINTERACTIVE_SEEN": "true",
        **extra,
    }


def _preinst(root: Path, member: Member) -> None:
    script = f"/var/lib/dpkg/info/{member.key}.preinst"
    if not (root / script.lstrip("/")).is_file():
        return
    env = _env(
        DPKG_MAINTSCRIPT_PACKAGE=member.name,
        DPKG_MAINTSCRIPT_ARCH=member.architecture,
        DPKG_MAINTSCRIPT_NAME="preinst",
        DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT="1",
        DPKG_ADMINDIR="/var/lib/dpkg",
        DPKG_ROOT="",
    )
    _enter(root, "chroot", [script, "install"], env, f"The preinst of {member.label}")


def _dpkg_configure(root: Path) -> None:
    if (root / "usr/bin/dpkg").is_file():
        _enter(root, "chroot", ["dpkg", "--configure", "-a"], _env(), "dpkg --configure -a")
        return
    host = shutil.which("dpkg")
    if host is None:
        raise CannotConfigure("--configure needs dpkg, in the lockfile or on this machine.")
    _enter(
        root, "host", [host, f"--root={root}", "--configure", "-a"], _env(), "dpkg --configure -a"
    )


def _enter(root: Path, how: str, argv: list[str], env: dict[str, str], what: str) -> None:
    cmd = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        _ENTER,
        "enter",
        str(root),
        how,
        *argv,
    ]
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigureFailed(
            f"{what} did not finish in {TIMEOUT} s in the composed root."
        ) from None
    if proc.returncode != 0:
        words = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
        last = words[-1].strip().rstrip(".") if words else "no output"
        raise ConfigureFailed(
            f"{what} failed in the composed root (exit {proc.returncode}): {last}."
        )


def remove_machine_files(root: Path) -> None:
    """Remove machine ids, ssh host keys, the contents of caches, logs and temporary
    directories, and dpkg's backups of its own files (``*-old``)."""
    for pattern in (*MACHINE_FILES, "var/lib/dpkg/*-old", "var/cache/debconf/*-old"):
        parent, _, name = pattern.rpartition("/")
        top = real_dir(root, parent)
        for path in top.glob(name) if top is not None else ():
            if not path.is_dir() or path.is_symlink():
                path.unlink()
    for name in EMPTIED:
        top = real_dir(root, name)
        if top is not None:
            empty(top)
