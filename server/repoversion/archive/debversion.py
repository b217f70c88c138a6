"""Debian version comparison: dpkg's rules, through libapt (python3-apt)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any


@functools.cache
def _apt_pkg() -> Any:
    import apt_pkg

    apt_pkg.init_config()
    apt_pkg.init_system()
    return apt_pkg


def version_cmp(a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` is older than, equal to or newer than ``b``.

    >>> version_cmp("1.0-1", "1:0.9") < 0
    True
    """
    result: int = _apt_pkg().version_compare(a, b)
    return result


def newest(versions: Iterable[str]) -> str:
    return max(versions, key=functools.cmp_to_key(version_cmp))
