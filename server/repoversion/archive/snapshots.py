"""How apt (>= 2.7) picks the server for ``--snapshot ID``, and the apt.conf line that
keeps it on a given URL.

apt chooses a source's snapshot server from the Release it already has
(``SnapshotServer`` in apt's ``apt-pkg/deb/debmetaindex.cc``; tried with trixie's apt 3.0.4):

1. a Release with neither ``Origin`` nor ``Label`` gets no server from its Release at
   all (apt then tries only ``Acquire::Snapshots::URI::Host::<host>``, which cannot tell
   two archives of one host apart);
2. ``Acquire::Snapshots::URI::Override::Label::<Label>``, then
   ``…::Override::Origin::<Origin>``;
3. the Release's ``Snapshots:`` field;
4. ``Acquire::Snapshots::URI::Label::<Label>``, then ``…::Origin::<Origin>``.

apt ships one setting of step 2, ``Override::Label::Debian-Security`` (pointing at
snapshot.debian.org), and only step-4 settings otherwise (``Origin::Debian``,
``Origin::Ubuntu``), which never outrank a ``Snapshots`` field. apt's configuration keys
are case-insensitive.

>>> served_identity("", "", "fx"), served_identity("Debian", "", "debian")
(('repoversion', 'fx'), ('Debian', ''))
>>> apt_overrides("Debian", "Debian-Security")
True
>>> print(override_line("Label", "Debian Backports", "http://rv/v/@SNAPSHOTID@/bpo/"))
Acquire::Snapshots::URI::Override::Label::"Debian Backports" "http://rv/v/@SNAPSHOTID@/bpo/";
"""

from __future__ import annotations

import re

#: The Origin of a signed Release whose upstream Release names neither Origin nor Label.
DEFAULT_ORIGIN = "repoversion"
#: The step-2 settings apt itself ships (apt-pkg/init.cc), as (field, value) casefolded.
APT_OVERRIDES = frozenset({("label", "debian-security")})
_PLAIN = re.compile(r"[A-Za-z0-9._+~-]+")


def served_identity(origin: str, label: str, archive: str) -> tuple[str, str]:
    """The ``Origin`` and ``Label`` a signed Release carries: upstream's, or, when
    upstream's Release has neither, ``repoversion`` and the archive's name (without
    either, apt finds no snapshot server for it).

    :param origin: upstream's Origin ("" when absent).
    :param label: upstream's Label ("" when absent).
    :param archive: the archive's name.
    """
    if origin or label:
        return origin, label
    return DEFAULT_ORIGIN, archive


def apt_overrides(origin: str, label: str) -> bool:
    """Whether one of apt's own step-2 settings sends a Release with this Origin and Label
    elsewhere, whatever its ``Snapshots`` field says."""
    keys = {("label", label.casefold()), ("origin", origin.casefold())}
    return not keys.isdisjoint(APT_OVERRIDES)


def override_line(field: str, value: str, url: str) -> str:
    """The apt.conf line ``Acquire::Snapshots::URI::Override::<field>::<value> "<url>";``.

    A value with characters apt.conf reads as syntax (space, ``;``, braces, ``#``…) is
    quoted, and the few that even quotes do not protect (``"`` and ``%``) are written
    ``%XX``, which apt decodes in a key.

    :param field: ``Label`` or ``Origin``.
    :param value: the Release's value of that field.
    :param url: the snapshot URL template (with ``@SNAPSHOTID@``); a URL holds no ``"``.
    """
    key = value if _PLAIN.fullmatch(value) else '"' + _escape(value) + '"'
    return f'Acquire::Snapshots::URI::Override::{field}::{key} "{url}";'


def _escape(text: str) -> str:
    return "".join(
        "".join(f"%{b:02X}" for b in c.encode()) if c in '"%' or not c.isprintable() else c
        for c in text
    )
