"""What a user pastes into another machine to use a repoversion as its apt source.

From a version's ``index.json``: one ``deb`` line per archive and suite (plus a
``deb-src`` line when sources are mirrored), and the command that fetches the server's
key. ``signed`` archives are checked against the server's key; ``verbatim`` archives keep
upstream's signature, so they point ``signed-by`` at a copy of the upstream keyring and
need ``check-valid-until=no`` (upstream's Release expires, the version does not).

For ``apt install --snapshot ID`` (apt >= 2.7), :attr:`ClientSetup.apt_conf` holds the
apt.conf lines that keep apt on this server where one of apt's own settings (its
``Override::Label::Debian-Security``) or a ``verbatim`` Release (whose ``Snapshots`` field,
if any, is upstream's) would send it elsewhere: ``Acquire::Snapshots::URI::Override::…``
pointing at ``<public_url>/v/@SNAPSHOTID@/<archive>/``, keyed by the suite's Label when no
other archive shares it (debian and debian-security share ``Origin: Debian``), else by its
Origin (see :mod:`repoversion.archive.snapshots`).

>>> index = {"repoversion": "1.4.0", "archives": {"debian": {"mode": "signed",
...     "suites": {"bookworm": {"files": {"main/binary-amd64/Packages.xz": {}}}}}}}
>>> client_setup(index, "http://rv.example").lines
['deb [signed-by=/etc/apt/keyrings/repoversion.gpg] http://rv.example/v/1.4.0/debian bookworm main']
>>> index["archives"]["debian"]["suites"]["bookworm"]["release"] = {
...     "origin": "Debian", "label": "Debian-Security"}
>>> client_setup(index, "http://rv.example").apt_conf
['Acquire::Snapshots::URI::Override::Label::Debian-Security "http://rv.example/v/@SNAPSHOTID@/debian/";']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from repoversion.archive.snapshots import apt_overrides, override_line, served_identity

KEYRING = "/etc/apt/keyrings/repoversion.gpg"
#: Where a client puts :attr:`ClientSetup.apt_conf`.
APT_CONF = "/etc/apt/apt.conf.d/50repoversion"
#: The comment printed before :attr:`ClientSetup.apt_conf`.
APT_CONF_NOTE = (
    f"# For `apt update --snapshot ID` and `apt install --snapshot ID` (apt >= 2.7), put "
    f"these lines in {APT_CONF}:"
)
#: the keys of a suite's ``release`` record in index.json that say what apt reads
_IDENTITY = ("origin", "label")
_COMPONENT = re.compile(r"^(.+?)/(?:binary-[^/]+|source|i18n|cnf|dep11)/")


@dataclass(frozen=True)
class ClientSetup:
    """The lines for one version.

    :ivar version: the version's number.
    :ivar key_command: fetches the server's binary key to :data:`KEYRING`.
    :ivar lines: ``deb``/``deb-src`` lines, in archive then suite order.
    :ivar notes: comment lines (``# …``) about verbatim archives and about suites apt's
        ``--snapshot`` cannot be kept on this server for.
    :ivar apt_conf: apt.conf lines that keep apt's ``--snapshot`` on this server (printed
        after :data:`APT_CONF_NOTE`, see :meth:`apt_conf_block`).
    """

    version: str
    key_command: str
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    apt_conf: list[str] = field(default_factory=list)

    def apt_conf_block(self) -> list[str]:
        """:data:`APT_CONF_NOTE` and :attr:`apt_conf`, or nothing when there is no line."""
        return [APT_CONF_NOTE, *self.apt_conf] if self.apt_conf else []


@dataclass(frozen=True)
class _Seen:
    """One archive's suite as apt's snapshot settings see it."""

    archive: str
    suite: str
    origin: str
    label: str
    verbatim: bool

    @property
    def needs_override(self) -> bool:
        """A verbatim Release's ``Snapshots`` field (if any) is upstream's; a signed one's
        is this server's unless one of apt's own settings outranks it."""
        return self.verbatim or apt_overrides(self.origin, self.label)


def components_of(paths: Iterable[str], order: Sequence[str] = ()) -> list[str]:
    """The components whose index files are among ``paths`` (``main/binary-amd64/…`` →
    ``main``), in ``order`` first, then by name."""
    found = {m.group(1) for p in paths if (m := _COMPONENT.match(p))}
    return [c for c in order if c in found] + sorted(found - set(order))


def has_sources(paths: Iterable[str]) -> bool:
    """Whether ``Sources`` indices are among ``paths`` (then a deb-src line helps)."""
    return any("/source/Sources" in p for p in paths)


def client_setup(
    index: dict[str, Any],
    public_url: str,
    component_order: Mapping[str, Sequence[str]] | None = None,
) -> ClientSetup:
    """The apt lines for the version ``index`` describes, served at ``public_url``.

    :param index: the version's ``index.json``.
    :param component_order: archive → configured components, to print them in that order.
    """
    base = public_url.rstrip("/")
    version = index["repoversion"]
    setup = ClientSetup(
        version=version, key_command=f"curl -fsSL {base}/keys/repoversion.gpg -o {KEYRING}"
    )
    for name, archive in sorted(index.get("archives", {}).items()):
        verbatim = archive.get("mode") == "verbatim"
        if verbatim:
            keyring = f"/etc/apt/keyrings/{name}.gpg"
            options = f"signed-by={keyring} check-valid-until=no"
            setup.notes.append(
                f"# {name} is served verbatim (upstream's own signature): copy its upstream "
                f"keyring to {keyring}; check-valid-until=no lets apt use old versions."
            )
        else:
            options = f"signed-by={KEYRING}"
        order = (component_order or {}).get(name, ())
        for suite, data in archive.get("suites", {}).items():
            paths = list(data.get("files", {}))
            components = components_of(paths, order)
            if not components:
                continue
            tail = f"{base}/v/{version}/{name} {suite} {' '.join(components)}"
            setup.lines.append(f"deb [{options}] {tail}")
            if has_sources(paths):
                setup.lines.append(f"deb-src [{options}] {tail}")
    _snapshot_overrides(_seen(index), base, setup)
    return setup


def _seen(index: Mapping[str, Any]) -> list[_Seen]:
    """Every suite with an apt line, with the Origin and Label apt reads in its Release
    (a suite whose ``release`` record has neither key is unknown, so left out)."""
    out = []
    for name, archive in sorted(index.get("archives", {}).items()):
        verbatim = archive.get("mode") == "verbatim"
        for suite, data in archive.get("suites", {}).items():
            release = data.get("release") or {}
            if not components_of(data.get("files", {})) or release.keys().isdisjoint(_IDENTITY):
                continue
            origin, label = release.get("origin") or "", release.get("label") or ""
            if not verbatim:
                origin, label = served_identity(origin, label, name)
            out.append(_Seen(name, suite, origin, label, verbatim))
    return out


def _snapshot_overrides(seen: list[_Seen], base: str, setup: ClientSetup) -> None:
    """Add the apt.conf line (or, where none can work, a note) for each suite whose
    snapshots apt would otherwise fetch elsewhere."""
    for s in (s for s in seen if s.needs_override):
        where = f"{s.archive}/{s.suite}"
        if not s.origin and not s.label:
            setup.notes.append(
                f"# {where}: its Release names neither Origin nor Label, so apt's --snapshot "
                "finds no server for it; use a /v/X.Y.Z/ line for it instead."
            )
            continue
        key = _distinct_key(s, seen)
        if key is None:
            setup.notes.append(
                f"# {where}: another archive has the same Label and Origin, so no apt setting "
                "can send its --snapshot here; use a /v/X.Y.Z/ line for it instead."
            )
            continue
        line = override_line(*key, f"{base}/v/@SNAPSHOTID@/{s.archive}/")
        if line not in setup.apt_conf:
            setup.apt_conf.append(line)


def _distinct_key(s: _Seen, seen: list[_Seen]) -> tuple[str, str] | None:
    """``("Label", …)`` when no other archive has its Label, else ``("Origin", …)`` when
    no other archive has its Origin and no setting of apt's own for its Label outranks an
    Origin one, else None. apt's keys are case-insensitive."""
    others = [o for o in seen if o.archive != s.archive]
    if s.label and all(o.label.casefold() != s.label.casefold() for o in others):
        return ("Label", s.label)
    origin_free = all(o.origin.casefold() != s.origin.casefold() for o in others)
    if s.origin and origin_free and not apt_overrides("", s.label):
        return ("Origin", s.origin)
    return None
