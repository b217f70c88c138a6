"""How package changes are classified: one function for the commit and for diff.

A package is a key, (kind, name, architecture) within one suite, mapped to the versions
of it the suite holds (an index may list several). Going from ``before`` to ``after``, a
key is *added* or *removed* when it appears or disappears, *upgraded* or *downgraded*
when its newest version goes up or down. SPEC section 2 bumps major when any key
disappears from a suite: a package that moves from one component to another stays.

>>> c = classify({"a": {"1"}, "b": {"1"}, "c": {"2"}}, {"b": {"2"}, "c": {"1"}, "d": {"1"}})
>>> c.added, c.removed, c.upgraded, c.downgraded
([('d', '1')], [('a', '1')], [('b', '1', '2')], [('c', '2', '1')])
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from repoversion.archive.debversion import newest, version_cmp

K = TypeVar("K", bound=tuple[str, ...] | str)
#: kind (``deb`` or ``dsc``), name, architecture
Key = tuple[str, str, str]


@dataclass
class Classified(Generic[K]):
    """Keys by what happened to them, each with its newest version(s).

    :ivar changed: some key's set of versions differs (also when its newest does not).
    """

    added: list[tuple[K, str]] = field(default_factory=list)
    removed: list[tuple[K, str]] = field(default_factory=list)
    upgraded: list[tuple[K, str, str]] = field(default_factory=list)
    downgraded: list[tuple[K, str, str]] = field(default_factory=list)
    changed: bool = False


def classify(
    before: Mapping[K, Collection[str]],
    after: Mapping[K, Collection[str]],
    *,
    detail: bool = True,
) -> Classified[K]:
    """Classify every key of ``before`` and ``after`` (an empty collection = absent);
    lists are in key order.

    :param detail: False when only the counts matter (a commit, a diff summary): lists
        are then unsorted, and keys found on one side only are listed without their
        newest version (``""``), which a first sync would otherwise pay for once per
        package.
    """
    out: Classified[K] = Classified()
    keys: Collection[K] = before.keys() | after.keys()
    if not detail:
        out.added = [(k, "") for k in after.keys() - before.keys() if after[k]]
        out.removed = [(k, "") for k in before.keys() - after.keys() if before[k]]
        keys = before.keys() & after.keys()
    for key in sorted(keys) if detail else keys:
        old, new = before.get(key), after.get(key)
        if not old and new:
            out.added.append((key, _newest(new)))
        elif old and not new:
            out.removed.append((key, _newest(old)))
        elif old and new and _differ(old, new):
            out.changed = True
            o, n = _newest(old), _newest(new)
            cmp = version_cmp(n, o)
            if cmp > 0:
                out.upgraded.append((key, o, n))
            elif cmp < 0:
                out.downgraded.append((key, o, n))
    return out


def _newest(versions: Collection[str]) -> str:
    """:func:`newest`, without ranking the usual single version."""
    if len(versions) == 1:
        return next(iter(versions))
    return newest(versions)


def _differ(old: Collection[str], new: Collection[str]) -> bool:
    if isinstance(old, set) and isinstance(new, set):
        return old != new
    return set(old) != set(new)


@dataclass
class ChangeCounts:
    """Package changes over a whole commit: ``changes`` in index.json and the bump."""

    added: int = 0
    removed: int = 0
    upgraded: int = 0
    downgraded: int = 0
    changed: bool = False

    def account(self, found: Classified[Any]) -> None:
        """Add one suite's classification."""
        self.added += len(found.added)
        self.removed += len(found.removed)
        self.upgraded += len(found.upgraded)
        self.downgraded += len(found.downgraded)
        self.changed = self.changed or found.changed

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "removed": self.removed,
            "upgraded": self.upgraded,
            "downgraded": self.downgraded,
        }


@dataclass
class CommitResult:
    """What ``sync --json`` prints (and the API returns)."""

    repoversion: str | None
    new: bool
    bump: str | None
    state: str
    changes: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "repoversion": self.repoversion,
            "new": self.new,
            "bump": self.bump,
            "state": self.state,
            "changes": self.changes,
            "warnings": self.warnings,
        }


def no_change(version: str | None, state: str, warnings: list[str]) -> CommitResult:
    """The result of a sync that committed nothing."""
    return CommitResult(version, False, None, state, ChangeCounts().counts(), warnings)
