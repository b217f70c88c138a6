"""The lockfile (SPEC section 6): its format, its bytes, and what changes between two.

A lockfile is canonical JSON (SPEC section 2: sorted keys, no spaces, UTF-8) with a final
newline, so the same request against the same repoversion gives the same bytes, and its
id (``/l/<id>/``) is the sha256 of those bytes without the newline. Packages are sorted by
name, architecture and version. Besides SPEC's fields it records ``recommends``, so that
``lockfile update`` resolves the same request again.

>>> lock = build(
...     {"repoversion": "1.0.0", "state": "sha256:00"},
...     {"request": ["hello"], "architecture": "amd64", "recommends": False},
...     [{"archive": "debian", "suite": "bookworm", "components": ["main"]}],
...     [{"name": "hello", "version": "1.0-1", "architecture": "amd64", "archive": "debian",
...       "suite": "bookworm", "component": "main", "sha256": "ab" * 32, "size": 3,
...       "filename": "pool/main/h/hello/hello_1.0-1_amd64.deb", "depends": []}],
...     "http://rv.example")
>>> lock["packages"][0]["url"]
'http://rv.example/v/1.0.0/debian/pool/main/h/hello/hello_1.0-1_amd64.deb'
>>> apt_args(lock)
['hello=1.0-1']
>>> check(json.loads(canonical(lock))) == lock
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from repoversion.errors import InvalidInput
from repoversion.resolve.tree import canonical_json
from repoversion.versions.changes import Classified, classify

FORMAT = 1
#: the fields of a package entry, with their JSON types
PACKAGE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "version": str,
    "architecture": str,
    "archive": str,
    "suite": str,
    "component": str,
    "filename": str,
    "sha256": str,
    "size": int,
    "url": str,
    "depends": list,
    "ostree": str,
}
TOP_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "repoversion": str,
    "state": str,
    "architecture": str,
    "request": list,
    "recommends": bool,
    "sources": list,
    "packages": list,
}
#: (name, architecture): what ``update`` compares, as ``diff`` does
Key = tuple[str, str]


def build(
    version: Mapping[str, str],
    request: Mapping[str, Any],
    sources: Sequence[Mapping[str, Any]],
    packages: Sequence[Mapping[str, Any]],
    public_url: str,
) -> dict[str, Any]:
    """The lockfile object.

    :param version: ``repoversion`` and ``state``.
    :param request: ``request`` (as given), ``architecture`` and ``recommends``.
    :param sources: ``archive``, ``suite`` and ``components`` of every source apt saw.
    :param packages: the entries apt chose, without ``url`` and ``ostree``.
    :param public_url: the server's public base URL.
    """
    base = f"{public_url.rstrip('/')}/v/{version['repoversion']}"
    entries = [
        {**p, "url": f"{base}/{p['archive']}/{p['filename']}", "ostree": f"dpkg/data/{p['sha256']}"}
        for p in packages
    ]
    entries.sort(key=lambda p: (p["name"], p["architecture"], p["version"], p["archive"]))
    return {
        "format": FORMAT,
        "repoversion": version["repoversion"],
        "state": version["state"],
        "architecture": request["architecture"],
        "request": list(request["request"]),
        "recommends": bool(request["recommends"]),
        "sources": [
            {
                "archive": s["archive"],
                "suite": s["suite"],
                "components": list(s["components"]),
                "uri": f"{base}/{s['archive']}",
            }
            for s in sources
        ],
        "packages": entries,
    }


def canonical(lock: Mapping[str, Any]) -> bytes:
    """The lockfile's bytes: canonical JSON and a final newline."""
    return canonical_json(lock) + b"\n"


def parse(data: bytes, where: str) -> dict[str, Any]:
    """A lockfile read from bytes, checked.

    :param where: names the file in messages.
    :raises InvalidInput: not JSON, or not a lockfile of this format.
    """
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{where} is not a JSON lockfile.") from None
    return check(obj, where)


def check(obj: Any, where: str = "the lockfile") -> dict[str, Any]:
    """``obj`` if it is a lockfile of this format.

    :raises InvalidInput: a field is missing or of the wrong type, naming it.
    """
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where} is not a lockfile (a JSON object).")
    # SPEC section 6 leaves it out: a lockfile without it was resolved without Recommends
    obj.setdefault("recommends", False)
    _fields(obj, TOP_FIELDS, where)
    if obj["format"] != FORMAT:
        raise InvalidInput(f"{where} has format {obj['format']}; this server reads format 1.")
    for i, entry in enumerate(obj["packages"]):
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: package entry {i + 1} is not an object.")
        _fields(entry, PACKAGE_FIELDS, f"{where}: package entry {i + 1}")
    for i, source in enumerate(obj["sources"]):
        if not isinstance(source, dict) or not all(
            isinstance(source.get(k), str) for k in ("archive", "suite", "uri")
        ):
            raise InvalidInput(f"{where}: source {i + 1} lacks its archive, suite or uri.")
    return obj


def _fields(obj: dict[str, Any], fields: Mapping[str, Any], where: str) -> None:
    for name, kind in fields.items():
        value = obj.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InvalidInput(f"{where} lacks a valid {name!r}.")


def versions_of(lock: Mapping[str, Any]) -> dict[Key, set[str]]:
    """(name, architecture) → versions, as :func:`~repoversion.versions.changes.classify`
    takes them."""
    out: dict[Key, set[str]] = {}
    for p in lock["packages"]:
        out.setdefault((p["name"], p["architecture"]), set()).add(p["version"])
    return out


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Classified[Key]:
    """Packages added, removed, upgraded and downgraded from ``old`` to ``new``."""
    return classify(versions_of(old), versions_of(new))


def apt_args(lock: Mapping[str, Any]) -> list[str]:
    """``name=version`` for each package, for ``apt-get install``."""
    return [f"{p['name']}={p['version']}" for p in lock["packages"]]
