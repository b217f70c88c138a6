"""What a sync reports, and how its package changes are counted.

Counts are per package (kind, name, architecture) of a suite; with several versions of
one package in one suite, the newest decides whether it was upgraded or downgraded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from repoversion.archive.debversion import newest, version_cmp
from repoversion.mirror.model import Key


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


@dataclass
class ChangeCounts:
    """Package changes over the whole sync, for the bump and ``changes`` in index.json."""

    added: int = 0
    removed: int = 0
    upgraded: int = 0
    downgraded: int = 0
    changed: bool = False

    def account(self, old: dict[Key, set[str]], new: dict[Key, set[str]]) -> None:
        self.removed += len(old.keys() - new.keys())
        self.added += len(new.keys() - old.keys())
        for key in old.keys() & new.keys():
            if old[key] != new[key]:
                self.changed = True
                cmp = version_cmp(newest(new[key]), newest(old[key]))
                if cmp > 0:
                    self.upgraded += 1
                elif cmp < 0:
                    self.downgraded += 1

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "removed": self.removed,
            "upgraded": self.upgraded,
            "downgraded": self.downgraded,
        }


def no_change(version: str | None, state: str, warnings: list[str]) -> CommitResult:
    """The result of a sync that committed nothing."""
    return CommitResult(version, False, None, state, ChangeCounts().counts(), warnings)
