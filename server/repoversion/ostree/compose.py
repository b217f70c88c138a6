"""A root composed from a lockfile's exported debs, committed to a ref (SPEC section 7).

1. Each deb's ``dpkg/control`` commit is checked out (a few small files) and each
   ``dpkg/data`` tree is listed with its content checksums (``ostree ls -R -C``); nothing
   of the data is read.
2. :func:`~repoversion.ostree.merge.plan` applies dpkg's file-ownership rules: a path two
   packages ship differently is refused unless one Replaces the other.
3. The dpkg database (:mod:`.dpkgdb`) is written to a small directory and committed.
4. The trees are merged as ``ostree commit --tree=ref=<data commit>… --tree=ref=<database
   commit>`` merges them, later trees winning (:mod:`.union`): a directory only one tree
   has is that tree's dirtree object as it is, and only the shared directories get new
   dirtree objects, written from the listings; no file is read again.
5. With ``configure`` or ``deployable`` the merged tree is checked out, given a merged
   ``/usr`` (:mod:`.usrmerge`), configured (:mod:`.configure`) and laid out
   (:mod:`.deployable`), and committed again.
6. The commit object, with the lockfile in its metadata (longer than a command line may
   be), is written in process (:mod:`.objects`), then signed and given its ref.

Every commit before the last is an orphan: the ref moves only once everything worked.
Compose commits have no parent and a fixed timestamp (the repoversion's creation time), so
the same lockfile composes to the same commit.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repoversion.errors import InvalidInput, OstreeError
from repoversion.ostree import dpkgdb, merge, objects, union
from repoversion.ostree.members import Member, read_member
from repoversion.ostree.repo import GpgKey, Repo, valid_ref
from repoversion.ostree.trees import READERS, read_tree, read_trees

#: the metadata keys of SPEC section 7
VERSION_KEY = "version"
STATE_KEY = "repoversion.state"
LOCKFILE_KEY = "repoversion.lockfile"


@dataclass(frozen=True)
class Deb:
    """A lockfile package as exported: its sha256 and its two commits."""

    sha256: str
    data_commit: str
    control_commit: str


@dataclass(frozen=True)
class Options:
    """What to do besides merging: run the maintainer scripts, lay out for deployment."""

    configure: bool = False
    deployable: bool = False


def check_ref(ref: str) -> str:
    """:raises InvalidInput: ``ref`` is not a ref name ostree accepts, or one of the refs
    the exports own."""
    if not valid_ref(ref):
        raise InvalidInput(f"{ref!r} is not a valid ostree ref name (letters, digits, -._/).")
    if ref.startswith("dpkg/"):
        raise InvalidInput(
            f"{ref!r} is under dpkg/, which holds the exported debs; choose another ref."
        )
    return ref


def check_options(options: Options) -> None:
    """:raises CannotConfigure: ``configure`` or ``deployable`` cannot run here (they need
    root: the tree is checked out with its owners)."""
    if options.configure or options.deployable:
        from repoversion.ostree.configure import require_root

        require_root("--configure" if options.configure else "--deployable")


def compose(
    repo: Repo,
    key: GpgKey | None,
    lock: Mapping[str, Any],
    lock_json: str,
    debs: Sequence[Deb],
    ref: str,
    *,
    timestamp: int,
    options: Options = Options(),
) -> str:
    """Compose ``debs`` (in lockfile order), commit, sign, and point ``ref`` at the result.

    :param lock: the lockfile (``repoversion``, ``state``, ``architecture``).
    :param lock_json: its canonical JSON, for the metadata.
    :returns: the commit's checksum.
    :raises Conflict: packages clash over files (nothing is committed to ``ref``).
    :raises RepoversionError: a maintainer script failed, or ostree did.
    """
    scratch = Repo(repo.path)  # the database's commit and a configured tree's: not signed
    meta = {VERSION_KEY: str(lock["repoversion"]), STATE_KEY: str(lock["state"])}
    subject = f"{ref} from repoversion {lock['repoversion']} ({len(debs)} packages)"
    with workspace(repo) as work:
        members = load_members(repo, debs, work / "control")
        plan = merge.plan(members)
        plan.check()
        db = work / "db"
        dpkgdb.write(db, plan, architectures(lock, members), conffile_digests(repo, plan))
        db_commit = scratch.commit(
            ref=None, trees=[f"dir={db}"], subject="dpkg database", extra=_ROOT_OWNED
        )
        trees = [m.tree for m in plan.order] + [read_tree(repo.run, db_commit)]
        root = union.write(repo.path, union.build(trees))
        if options.configure or options.deployable:
            merged = objects.write_commit(repo.path, root, subject, timestamp, meta, None)
            root = _finish(scratch, merged, work / "root", plan.order, options)
    final = objects.write_commit(
        repo.path, root, subject, timestamp, {**meta, LOCKFILE_KEY: lock_json}, ref
    )
    if key is not None:
        repo.run("gpg-sign", final, key.key_id, f"--gpg-homedir={key.homedir}")
    repo.run("refs", f"--create={ref}", "--force", final)
    return final


_ROOT_OWNED = ["--owner-uid=0", "--owner-gid=0"]


def _finish(
    scratch: Repo, commit: str, root: Path, members: Sequence[Member], options: Options
) -> tuple[str, str]:
    """Check ``commit`` out, configure it and/or lay it out, commit the result; return
    its root (dirtree, dirmeta)."""
    from repoversion.ostree import configure, deployable, usrmerge

    check_options(options)
    scratch.run("checkout", commit, str(root))
    usrmerge.merge_usr(root)
    if options.configure:
        configure.configure(root, members)
    if options.deployable:
        deployable.lay_out(root)
    done = scratch.commit(ref=None, trees=[f"dir={root}"], subject="", extra=["--consume"])
    return objects.commit_root(scratch.path, done)


@contextmanager
def workspace(repo: Repo) -> Iterator[Path]:
    """A scratch directory beside the repository's objects (same filesystem), removed
    afterwards whatever happens."""
    (repo.path / "tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="repoversion-compose-", dir=repo.path / "tmp") as tmp:
        yield Path(tmp)


def load_members(repo: Repo, debs: Sequence[Deb], where: Path) -> list[Member]:
    """Each deb's control files (checked out under ``where``) and data tree."""
    where.mkdir()
    dirs = [where / deb.sha256 for deb in debs]

    def checkout(item: tuple[Deb, Path]) -> None:
        repo.run("checkout", "-U", item[0].control_commit, str(item[1]))

    with ThreadPoolExecutor(READERS) as pool:
        list(pool.map(checkout, zip(debs, dirs, strict=True)))
    trees = read_trees(repo.run, [deb.data_commit for deb in debs])
    members = []
    for index, (deb, path) in enumerate(zip(debs, dirs, strict=True)):
        member = read_member(index, deb.sha256, deb.data_commit, path)
        member.tree = trees[deb.data_commit]
        members.append(member)
    return members


def architectures(lock: Mapping[str, Any], members: Sequence[Member]) -> list[str]:
    """The lockfile's architecture, then any other one a package is built for."""
    native = str(lock["architecture"])
    foreign = {m.architecture for m in members} - {native, "all"}
    return [native, *sorted(foreign)]


def conffile_digests(repo: Repo, plan: merge.Plan) -> dict[str, dict[str, str]]:
    """member key → (conffile → MD5 of the content the package ships), for the conffiles
    it still owns; one ``ostree cat`` per package that has some."""
    out: dict[str, dict[str, str]] = {}
    for member in plan.order:
        owned = set(plan.owned(member))
        paths = [
            p
            for p in dpkgdb.conffile_paths(member)
            if p in owned and member.tree.get(p) is not None and member.tree[p].kind == "-"
        ]
        if paths:
            data = cat(repo, member.data_commit, paths)
            digests, offset = {}, 0
            for path in paths:
                size = member.tree[path].size
                digests[path] = hashlib.md5(data[offset : offset + size]).hexdigest()
                offset += size
            out[member.key] = digests
    return out


def cat(repo: Repo, commit: str, paths: Sequence[str]) -> bytes:
    """The bytes of ``paths`` of ``commit``, one after the other.

    :raises OstreeError: ostree failed.
    """
    proc = subprocess.run(
        ["ostree", "cat", f"--repo={repo.path}", commit, *paths], capture_output=True, check=False
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise OstreeError(f"ostree cat failed: {detail[0].removeprefix('error: ').rstrip('.')}.")
    return proc.stdout
