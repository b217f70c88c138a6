"""The union of several committed trees, computed from their listings (later trees win).

This is what ``ostree commit --tree=ref=A --tree=ref=B …`` builds, done without asking
the repository about each entry (see :mod:`.objects` for why): a directory that only one
tree has keeps that tree's dirtree object as it is, whatever it holds; only directories
that several trees share (``/``, ``/usr``, ``/usr/include``…) get a new dirtree, written
with :func:`~repoversion.ostree.objects.write_dirtree`. Files are named by the content
checksums the listings give, so no file is read.

>>> from repoversion.ostree.trees import parse_listing
>>> a = parse_listing("d00755 0 0 0 t1 m /\\nd00755 0 0 0 t2 m /usr\\n-00644 0 0 1 f1 /usr/a\\n")
>>> b = parse_listing("d00755 0 0 0 t3 m /\\nd00755 0 0 0 t4 n /etc\\n-00644 0 0 1 f2 /etc/b\\n")
>>> root = build([a, b])
>>> root.shared, root.dirs["usr"].shared, root.dirs["etc"].dirtree, sorted(root.dirs)
(True, False, 't4', ['etc', 'usr'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repoversion.errors import Conflict
from repoversion.ostree.objects import write_dirtree
from repoversion.ostree.trees import Tree

_KINDS = "Cannot compose: {path} is a directory in one tree and not in another."


@dataclass
class Node:
    """A directory of the union: its dirmeta, and the dirtree of the one tree that has
    it while no other tree has it too (``shared`` False)."""

    dirmeta: str
    dirtree: str
    shared: bool = False
    files: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, Node] = field(default_factory=dict)


def build(trees: Sequence[Tree]) -> Node:
    """The union of ``trees`` (each listed parents first), later trees winning: a file
    replaces a file, a directory's metadata is the last tree's.

    :raises Conflict: a tree has a file where an earlier one has a directory, or the
        other way round (ostree refuses that too).
    """
    index: dict[str, Node] = {}
    for tree in trees:
        for path, entry in tree.items():
            if path == "/":
                _root(index, entry.dirtree, entry.checksum)
                continue
            parent_path, _, name = path.rpartition("/")
            parent = index[parent_path or "/"]
            if entry.kind == "d":
                index[path] = _subdir(parent, name, path, entry.dirtree, entry.checksum)
            else:
                if name in parent.dirs:
                    raise Conflict(
                        f"Cannot compose: {path} is a directory in one tree, not in another."
                    )
                parent.files[name] = entry.checksum
    return index["/"]


def _root(index: dict[str, Node], dirtree: str, dirmeta: str) -> None:
    node = index.get("/")
    if node is None:
        index["/"] = Node(dirmeta, dirtree)
    else:
        node.shared, node.dirmeta = True, dirmeta


def _subdir(parent: Node, name: str, path: str, dirtree: str, dirmeta: str) -> Node:
    if name in parent.files:
        raise Conflict(_KINDS.format(path=path))
    node = parent.dirs.get(name)
    if node is None:
        node = parent.dirs[name] = Node(dirmeta, dirtree)
    else:
        node.shared, node.dirmeta = True, dirmeta
    return node


def write(repo: Path, node: Node) -> tuple[str, str]:
    """Store the dirtrees of the shared directories under ``node`` (children first);
    return ``node``'s (dirtree, dirmeta) checksums."""
    if not node.shared:
        return node.dirtree, node.dirmeta
    dirs = [(name, *write(repo, child)) for name, child in node.dirs.items()]
    return write_dirtree(repo, list(node.files.items()), dirs), node.dirmeta
