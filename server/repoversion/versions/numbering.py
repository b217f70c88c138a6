"""Numbers and state ids: what a repoversion is called and what it serves, as values.

SPEC section 2: a state id is the sha256 of the canonical JSON of the served files; a
version number ``X.Y.Z`` follows its parent by the bump the change calls for.

>>> next_number(None, "minor"), next_number((1, 4, 2), "minor"), next_number((1, 4, 2), "major")
((1, 0, 0), (1, 5, 0), (2, 0, 0))
>>> max_bump("patch", "minor"), max_bump("major", None)
('minor', 'major')
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

VERSION_RE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
#: apt's snapshot ID form, or the ISO form ``versions`` prints (both whole seconds, UTC)
TIMESTAMP_RE = re.compile(r"\d{8}T\d{6}Z|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
#: a tag name: never read as a version nor as a timestamp
TAG_RE = re.compile(r"[a-z][a-z0-9._-]*")
BUMPS = ("patch", "minor", "major")

#: ``{archive: {suite: {path: {"sha256", "size"}}}}``
Manifest = dict[str, dict[str, dict[str, dict[str, Any]]]]


def canonical_json(obj: Any) -> bytes:
    """SPEC section 2: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def state_id(manifest: Manifest) -> str:
    """``sha256:`` and the digest of the manifest's canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical_json(manifest)).hexdigest()


def next_number(prev: tuple[int, int, int] | None, bump: str) -> tuple[int, int, int]:
    """The version after ``prev`` for ``bump`` (``1.0.0`` first)."""
    if prev is None:
        return (1, 0, 0)
    major, minor, patch = prev
    if bump == "major":
        return (major + 1, 0, 0)
    if bump == "minor":
        return (major, minor + 1, 0)
    return (major, minor, patch + 1)


def max_bump(a: str, b: str | None) -> str:
    """The larger of two bumps (``b`` may be None)."""
    return a if b is None or BUMPS.index(a) >= BUMPS.index(b) else b
