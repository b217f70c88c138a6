"""What a user pastes into another machine to use a repoversion as its apt source.

From a version's ``index.json``: one ``deb`` line per archive and suite (plus a
``deb-src`` line when sources are mirrored), and the command that fetches the server's
key. ``signed`` archives are checked against the server's key; ``verbatim`` archives keep
upstream's signature, so they point ``signed-by`` at a copy of the upstream keyring and
need ``check-valid-until=no`` (upstream's Release expires, the version does not).

>>> index = {"repoversion": "1.4.0", "archives": {"debian": {"mode": "signed",
...     "suites": {"bookworm": {"files": {"main/binary-amd64/Packages.xz": {}}}}}}}
>>> client_setup(index, "http://rv.example").lines
['deb [signed-by=/etc/apt/keyrings/repoversion.gpg] http://rv.example/v/1.4.0/debian bookworm main']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KEYRING = "/etc/apt/keyrings/repoversion.gpg"
_COMPONENT = re.compile(r"^(.+?)/(?:binary-[^/]+|source|i18n|cnf|dep11)/")


@dataclass(frozen=True)
class ClientSetup:
    """The lines for one version.

    :ivar version: the version's number.
    :ivar key_command: fetches the server's binary key to :data:`KEYRING`.
    :ivar lines: ``deb``/``deb-src`` lines, in archive then suite order.
    :ivar notes: comment lines (``# …``) about verbatim archives.
    """

    version: str
    key_command: str
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
    return setup
