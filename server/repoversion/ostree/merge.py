"""In which order the package trees are merged, who owns each path, and what clashes.

ostree's commit with several ``--tree=ref=`` arguments merges them in order, a later tree
winning where two hold the same path; it refuses a file where another tree has a
directory. dpkg's rule for two packages shipping one path is stricter: the second one to
be unpacked may take the file over only if it declares ``Replaces`` on the first (the
file then leaves the first package's ``.list``); otherwise the install fails. Paths that
both ship identically (Multi-Arch: same's shared files, say) are owned by both.

:func:`plan` applies dpkg's rule to the trees, in lockfile order, before anything is
committed: a replacing package is moved after the package it replaces (so its file is the
one merged), and paths shipped differently without a Replaces either way are
:class:`Clash` es.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

from repoversion.errors import Conflict
from repoversion.ostree.members import Member
from repoversion.ostree.trees import Entry

#: how many clashes an error message names
SHOWN = 5


@dataclass(frozen=True)
class Clash:
    """Two packages ship ``path`` differently and neither replaces the other."""

    path: str
    first: Member
    second: Member
    why: str

    def describe(self) -> str:
        return f"{self.path} ({self.first.label} and {self.second.label}: {self.why})"


@dataclass
class Plan:
    """The merge order, what each package owns (its ``.list``), and the clashes."""

    order: list[Member]
    lost: dict[str, set[str]] = field(default_factory=dict)
    clashes: list[Clash] = field(default_factory=list)

    def owned(self, member: Member) -> list[str]:
        """The paths ``member`` owns: its tree less the files other packages took over."""
        lost = self.lost.get(member.key, set())
        return [p for p in member.tree if p not in lost]

    def check(self) -> None:
        """:raises Conflict: there are clashes (naming the first few)."""
        if not self.clashes:
            return
        shown = "; ".join(c.describe() for c in self.clashes[:SHOWN])
        more = len(self.clashes) - SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        raise Conflict(
            f"Cannot compose: {len(self.clashes)} path(s) are shipped differently by two "
            f"packages and neither Replaces the other: {shown}{tail}."
        )


def plan(members: Sequence[Member]) -> Plan:
    """dpkg's file ownership over ``members`` (in lockfile order)."""
    owners: dict[str, list[tuple[Member, Entry]]] = {}
    lost: dict[str, set[str]] = {}
    after: dict[int, set[int]] = {}  # winner index → indexes it must be merged after
    clashes: list[Clash] = []
    for member in members:
        for path, entry in member.tree.items():
            if path == "/":
                continue
            claims = owners.setdefault(path, [])
            keep = True
            for other, theirs in list(claims):
                if theirs.same_as(entry):
                    continue
                if entry.kind == "d" or theirs.kind == "d":
                    clashes.append(Clash(path, other, member, _kinds(theirs, entry)))
                    keep = False
                elif member.replaces(other):
                    claims.remove((other, theirs))
                    lost.setdefault(other.key, set()).add(path)
                    after.setdefault(member.index, set()).add(other.index)
                elif other.replaces(member):
                    lost.setdefault(member.key, set()).add(path)
                    after.setdefault(other.index, set()).add(member.index)
                    keep = False
                else:
                    clashes.append(Clash(path, other, member, "different contents"))
                    keep = False
            if keep:
                claims.append((member, entry))
    return Plan(_order(members, after), lost, clashes)


def _kinds(a: Entry, b: Entry) -> str:
    names = {"d": "a directory", "-": "a file", "l": "a symlink"}
    return f"{names[a.kind]} in one, {names[b.kind]} in the other"


def _order(members: Sequence[Member], after: dict[int, set[int]]) -> list[Member]:
    """Lockfile order, except that a package comes after every package whose files it
    takes over (Kahn's algorithm, ties taken in lockfile order).

    :raises Conflict: packages take files over from each other in a cycle.
    """
    by_index = {m.index: m for m in members}
    waiting = {m.index: set(after.get(m.index, ())) for m in members}
    needed_by: dict[int, set[int]] = {}
    for winner, losers in waiting.items():
        for loser in losers:
            needed_by.setdefault(loser, set()).add(winner)
    ready = [i for i, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    out: list[Member] = []
    while ready:
        index = heapq.heappop(ready)
        out.append(by_index[index])
        for winner in needed_by.get(index, ()):
            waiting[winner].discard(index)
            if not waiting[winner]:
                heapq.heappush(ready, winner)
    if len(out) < len(members):
        stuck = ", ".join(by_index[i].label for i in sorted(set(by_index) - {m.index for m in out}))
        raise Conflict(
            f"Cannot compose: these packages replace each other's files in a cycle: {stuck}."
        )
    return out
