"""The compose's pieces on their own: dpkg's file ownership, merged /usr, large metadata."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from repoversion.errors import Conflict
from repoversion.ostree import objects, union
from repoversion.ostree.members import Member
from repoversion.ostree.merge import plan
from repoversion.ostree.trees import Entry, read_tree
from repoversion.ostree.usrmerge import merge_usr


def member(index: int, name: str, files: dict[str, str], **fields: str) -> Member:
    tree = {"/": Entry("/", "d", 0o755, 0, 0, 0, "dm")}
    for path, checksum in files.items():
        tree[path] = Entry(path, "-", 0o644, 0, 0, 1, checksum)
    return Member(index, f"{index:064x}", "c" * 64, Path("/nonexistent"),
                  {"Package": name, "Version": "1.0", **fields}, tree)  # fmt: skip


def test_replacing_packages_are_merged_after_what_they_replace() -> None:
    members = [
        member(0, "a", {"/f": "1"}, Replaces="b"),
        member(1, "b", {"/f": "2", "/g": "3"}, Replaces="c"),
        member(2, "c", {"/g": "4"}),
    ]
    result = plan(members)
    assert [m.name for m in result.order] == ["c", "b", "a"]
    assert result.owned(members[1]) == ["/", "/g"]
    assert result.owned(members[2]) == ["/"]
    assert result.clashes == []


def test_packages_taking_files_from_each_other_in_a_cycle_are_refused() -> None:
    members = [
        member(0, "a", {"/f": "1", "/h": "7"}, Replaces="b"),
        member(1, "b", {"/f": "2", "/g": "3"}, Replaces="c"),
        member(2, "c", {"/g": "4", "/h": "8"}, Replaces="a"),
    ]
    with pytest.raises(Conflict, match=r"replace each other's files in a cycle: a .*b .*c "):
        plan(members)


def test_clashes_are_counted_and_the_first_named() -> None:
    members = [member(0, "a", {f"/f{i}": "1" for i in range(7)}),
               member(1, "b", {f"/f{i}": "2" for i in range(7)})]  # fmt: skip
    with pytest.raises(Conflict) as caught:
        plan(members).check()
    assert caught.value.message.startswith("Cannot compose: 7 path(s)")
    assert caught.value.message.endswith("; and 2 more.")


def test_merge_usr_moves_top_level_directories_under_usr(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/both").write_text("same")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/both").write_text("same")
    (tmp_path / "bin/sh").write_text("shell")
    (tmp_path / "lib64").mkdir()
    (tmp_path / "lib64/ld.so").symlink_to("/lib/x86_64-linux-gnu/ld.so")
    merge_usr(tmp_path)
    assert (
        os.readlink(tmp_path / "bin") == "usr/bin"
        and os.readlink(tmp_path / "lib64") == "usr/lib64"
    )
    assert (tmp_path / "usr/bin/sh").read_text() == "shell"
    assert os.readlink(tmp_path / "usr/lib64/ld.so") == "/lib/x86_64-linux-gnu/ld.so"


def test_merge_usr_refuses_two_different_files(tmp_path: Path) -> None:
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/tool").write_text("new")
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin/tool").write_text("old")
    with pytest.raises(Conflict, match="/sbin/tool and /usr/sbin/tool both exist and differ"):
        merge_usr(tmp_path)


def _ostree(repo: Path, *args: str) -> str:
    return subprocess.run(["ostree", args[0], f"--repo={repo}", *args[1:]],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def test_union_is_what_ostree_commit_with_several_trees_builds(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _ostree(repo, "init", "--mode=archive")
    layouts = [
        {"usr/bin/a": "a1", "usr/share/doc/a/README": "a", "etc/a.conf": "x"},
        {"usr/bin/b": "b", "usr/bin/a": "a2", "usr/lib/x/y/z": "deep", "etc/b.conf": "y"},
        {"usr/share/doc/c/README": "c", "var/lib/c/state": "s", "usr/bin/a": "a3"},
    ]
    commits = []
    for i, files in enumerate(layouts):
        tree = tmp_path / f"t{i}"
        for rel, text in files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_text(text)
        (tree / "usr/share/doc/c").mkdir(parents=True, exist_ok=True)
        (tree / "usr").chmod(0o755 if i != 1 else 0o775)  # dirmeta: the last tree's wins
        (tree / "lnk").symlink_to(f"target{i}")
        commits.append(_ostree(repo, "commit", "--orphan", "--no-bindings",
                               f"--tree=dir={tree}").strip())  # fmt: skip
    merged = _ostree(repo, "commit", "--orphan", "--no-bindings",
                     *(f"--tree=ref={c}" for c in commits)).strip()  # fmt: skip
    trees = [read_tree(lambda *a: _ostree(repo, *a), c) for c in commits]
    ours = union.write(repo, union.build(trees))
    theirs = _ostree(repo, "ls", "-d", "-C", merged, "/").split()[4:6]
    assert list(ours) == theirs
    built = objects.write_commit(repo, ours, "s", 1_700_000_000, {"version": "1.0.0"}, "rv/u")
    _ostree(repo, "refs", "--create=rv/u", built)
    _ostree(repo, "fsck")
    assert "Date:  2023-11-14 22:13:20 +0000" in _ostree(repo, "log", "rv/u")


def test_metadata_longer_than_a_command_line(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_text("x")
    _ostree(repo, "init", "--mode=archive")
    small = _ostree(repo, "commit", "--orphan", "--no-bindings", f"--tree=dir={tree}").strip()
    huge = "x" * 300_000  # past Linux's 128 KiB limit for one argument
    root = objects.commit_root(repo, small)
    big = objects.write_commit(
        repo, root, "s", 0, {"repoversion.lockfile": huge, "version": "1.0.0"}, "rv/big"
    )
    _ostree(repo, "refs", "--create=rv/big", big)
    _ostree(repo, "fsck")
    shown = _ostree(repo, "show", "rv/big", "--print-metadata-key=repoversion.lockfile")
    assert shown.strip() == f"'{huge}'"
    assert _ostree(repo, "show", "rv/big", "--print-metadata-key=version").strip() == "'1.0.0'"
