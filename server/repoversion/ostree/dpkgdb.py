"""The dpkg database of a composed root, written as ``dpkg --unpack`` leaves it.

Under ``var/lib/dpkg``: ``status`` (every package ``install ok unpacked``, its control
fields in dpkg's own order, ``Conffiles`` with their digests), ``info/<pkg>.list`` (every
path the package owns, ``/.`` first), every control.tar member but ``control`` as
``info/<pkg>.<member>`` (``md5sums``, ``conffiles``, maintainer scripts, ``triggers``,
``shlibs``…), the trigger interests dpkg records at unpack (``triggers/File`` and
``triggers/<name>``), ``arch`` (the native architecture first) and the empty files and
directories dpkg expects (``available``, ``updates/``, ``alternatives/``…). ``<pkg>`` is
``name:arch`` for ``Multi-Arch: same`` packages, as dpkg names them.

Conffiles are already at their place in the merged tree (there is no ``.dpkg-new`` copy),
so ``Conffiles`` records their real MD5 rather than dpkg's ``newconffile`` marker: a later
``dpkg --configure`` then keeps them, and an upgrade sees them as unmodified.

>>> dpkg_order({"Package": "a", "Description": "d", "Version": "1", "Homepage": "h",
...             "Architecture": "all", "Essential": "yes"}, "install ok unpacked")
['Package', 'Essential', 'Status', 'Architecture', 'Version', 'Description', 'Homepage']
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from repoversion.ostree.members import Member
from repoversion.ostree.merge import Plan

ADMINDIR = "var/lib/dpkg"
STATUS = "install ok unpacked"
#: dpkg's field order in the status file (lib/dpkg/parse.c); other fields follow
FIELD_ORDER = [
    *("Package", "Essential", "Protected", "Status", "Priority", "Section"),
    *("Installed-Size", "Origin", "Maintainer", "Bugs", "Architecture", "Multi-Arch"),
    *("Source", "Version", "Config-Version", "Replaces", "Provides", "Depends"),
    *("Pre-Depends", "Recommends", "Suggests", "Breaks", "Conflicts", "Enhances"),
    *("Conffiles", "Description", "Triggers-Pending", "Triggers-Awaited"),
]
#: control.tar members that are not copied to info/ (``control`` becomes the stanza)
NOT_INFO = {"control"}
#: directories dpkg and its helpers expect in a fresh database (debootstrap makes them)
DIRS = ("info", "updates", "alternatives", "triggers", "parts")
#: a named trigger (it becomes a file name under triggers/)
_TRIGGER = re.compile(r"[A-Za-z0-9][\w.+:-]*")


def dpkg_order(fields: Mapping[str, str], status: str) -> list[str]:
    """Field names of a status stanza in the order dpkg writes them."""
    present = {**fields, "Status": status}
    known = [f for f in FIELD_ORDER if f in present]
    return known + [f for f in fields if f not in FIELD_ORDER]


def stanza(member: Member, conffiles: Mapping[str, str]) -> str:
    """The status stanza of ``member``.

    :param conffiles: path → MD5 of each of its conffiles.
    """
    fields = dict(member.fields)
    fields["Status"] = STATUS
    if conffiles:
        fields["Conffiles"] = "".join(f"\n {p} {md5}" for p, md5 in conffiles.items())
    lines = []
    for name in dpkg_order(fields, STATUS):
        value = fields[name]
        lines.append(f"{name}:{value}" if value.startswith("\n") else f"{name}: {value}")
    return "\n".join(lines) + "\n"


def conffile_paths(member: Member) -> list[str]:
    """The conffiles ``member`` installs (lines with flags such as ``remove-on-upgrade``
    name files that a fresh install does not get)."""
    path = member.control_file("conffiles")
    if path is None:
        return []
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()]
    return [ln for ln in lines if ln.startswith("/") and " " not in ln]


def write(
    root: Path,
    plan: Plan,
    architectures: Sequence[str],
    conffiles: Mapping[str, Mapping[str, str]],
) -> Path:
    """Write the database under ``root/var/lib/dpkg`` and return that directory.

    :param architectures: the native architecture, then any foreign ones.
    :param conffiles: member key → (conffile path → MD5).
    """
    admin = root / ADMINDIR
    for name in DIRS:
        (admin / name).mkdir(parents=True, exist_ok=True)
    for name in ("available", "diversions", "statoverride"):
        (admin / name).write_bytes(b"")
    (admin / "arch").write_text("".join(f"{a}\n" for a in architectures))
    members = sorted(plan.order, key=lambda m: (m.name, m.architecture))
    (admin / "status").write_text(
        "\n".join(stanza(m, conffiles.get(m.key, {})) for m in members), encoding="utf-8"
    )
    for member in members:
        _write_info(admin / "info", member, plan.owned(member))
    _write_triggers(admin / "triggers", members)
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, 0o755)
    return admin


def _write_info(info: Path, member: Member, owned: Sequence[str]) -> None:
    for item in sorted(member.control_dir.iterdir()):
        if item.name not in NOT_INFO and item.is_file():
            target = info / f"{member.key}.{item.name}"
            shutil.copyfile(item, target)
            os.chmod(target, 0o755 if os.access(item, os.X_OK) else 0o644)
    listed = ["/." if p == "/" else p for p in owned]
    if "/." not in listed:
        listed.insert(0, "/.")
    (info / f"{member.key}.list").write_text("".join(f"{p}\n" for p in listed), encoding="utf-8")


def _write_triggers(triggers: Path, members: Sequence[Member]) -> None:
    """The interests of each package's ``triggers`` file, as dpkg records them at unpack:
    file triggers in ``File`` (``path pkg``), named ones in a file per trigger; a
    ``-noawait`` interest is suffixed ``/noawait``."""
    files: list[str] = []
    named: dict[str, list[str]] = {}
    for member in members:
        path = member.control_file("triggers")
        if path is None:
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) != 2 or not words[0].startswith("interest"):
                continue
            if not words[1].startswith("/") and not _TRIGGER.fullmatch(words[1]):
                continue  # dpkg refuses such a name too; it must not become a path
            who = member.key + ("/noawait" if words[0] == "interest-noawait" else "")
            if words[1].startswith("/"):
                files.append(f"{words[1]} {who}\n")
            else:
                named.setdefault(words[1], []).append(f"{who}\n")
    (triggers / "File").write_text("".join(files))
    (triggers / "Unincorp").write_bytes(b"")
    for name, interested in named.items():
        (triggers / name).write_text("".join(interested))
