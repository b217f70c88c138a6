"""What a committed tree holds, read from ``ostree ls -R -C`` without checking anything out.

Each entry has its type, mode, owner and, for files and symlinks, the checksum of ostree's
content object: that checksum covers the bytes *and* the mode, owner and xattrs, so two
entries with the same checksum are the same file in every way dpkg would care about.

>>> t = parse_listing(
...     "d00755 0 0      0 aa bb /\\n"
...     "d00755 0 0      0 cc bb /usr\\n"
...     "-00644 0 0     12 dd /usr/a b.txt\\n"
...     "l00777 0 0      0 ee /usr/lib64 -> lib\\n")
>>> [(e.path, e.kind) for e in t.values()]
[('/', 'd'), ('/usr', 'd'), ('/usr/a b.txt', '-'), ('/usr/lib64', 'l')]
>>> t["/usr/lib64"].target, t["/usr/a b.txt"].size, t["/usr/a b.txt"].checksum
('lib', 12, 'dd')
>>> t["/usr"].dirtree, t["/usr"].checksum
('cc', 'bb')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from repoversion.errors import OstreeError

#: how many ``ostree`` processes read trees at once (they wait on disk as much as CPU)
READERS = 4


@dataclass(frozen=True)
class Entry:
    """One path of a tree.

    :param kind: ``d`` (directory), ``-`` (regular file) or ``l`` (symlink).
    :param checksum: the content object (files, symlinks) or the dirmeta (directories).
    :param dirtree: a directory's dirtree object (its names and their objects).
    """

    path: str
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    checksum: str
    target: str = ""
    dirtree: str = ""

    def same_as(self, other: Entry) -> bool:
        """Whether dpkg would see the same thing at this path in both packages."""
        return self.kind == other.kind and (self.kind == "d" or self.checksum == other.checksum)


#: path → entry, in the order ``ostree ls`` prints them (parents before children)
Tree = dict[str, Entry]


def parse_listing(text: str) -> Tree:
    """Parse what ``ostree ls -R -C`` prints.

    :raises OstreeError: a line that is not in that format.
    """
    tree: Tree = {}
    for line in text.splitlines():
        if line:
            entry = _parse_line(line)
            tree[entry.path] = entry
    return tree


def _parse_line(line: str) -> Entry:
    kind = line[:1]
    # a directory prints two checksums (dirtree, dirmeta): keep the dirmeta
    fields = 6 if kind == "d" else 5
    parts = line.split(None, fields)
    if kind not in "d-l" or len(parts) != fields + 1 or not parts[1].isdigit():
        raise OstreeError(f"Cannot read ostree's listing line {line[:80]!r}.")
    mode, uid, gid, size = int(parts[0][1:], 8), int(parts[1]), int(parts[2]), int(parts[3])
    path, target = parts[fields], ""
    if kind == "l":
        path, _, target = path.partition(" -> ")
    dirtree = parts[4] if kind == "d" else ""
    return Entry(path, kind, mode, uid, gid, size, parts[fields - 1], target, dirtree)


def read_tree(run: Callable[..., str], rev: str) -> Tree:
    """The tree of commit ``rev``.

    :param run: runs ``ostree ARGS`` on the repository and returns its output
        (:meth:`~repoversion.ostree.repo.Repo.run`).
    """
    return parse_listing(run("ls", "-R", "-C", rev))


def read_trees(run: Callable[..., str], revs: Iterable[str]) -> dict[str, Tree]:
    """:func:`read_tree` of every rev, several ``ostree`` processes at a time."""
    revs = list(dict.fromkeys(revs))
    with ThreadPoolExecutor(READERS) as pool:
        return dict(zip(revs, pool.map(lambda r: read_tree(run, r), revs), strict=True))
