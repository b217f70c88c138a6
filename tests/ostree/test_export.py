"""``ostree export``: commits, metadata, rows, skipping, reproducibility, fetching on
demand; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from repoversion.db.models import OstreeExport
from repoversion.db.session import transaction
from repoversion.errors import BadDeb, NotFound
from repoversion.ostree.export import DebRef, control_ref, data_ref, export_debs
from repoversion.ostree.repo import Repo
from tests.fixtures.archives import Pkg
from tests.ostree.conftest import Home, context_of, ostree
from tests.ostree.debs import RICH, Entry, build_deb, control_text, sha256


def _rows(home: Home) -> dict[str, OstreeExport]:
    with transaction(home.ctx.sessions) as s:
        rows = {r.sha256: r for r in s.scalars(select(OstreeExport))}
        s.expunge_all()
        return rows


def _meta(repo: Path, commit: str, key: str) -> str:
    out = ostree("show", f"--print-metadata-key={key}", commit, repo=repo).strip()
    return str(json.loads(out.replace("'", '"'))) if out.startswith("'") else out


def test_export_commits_both_refs_with_the_metadata(exporting: Home) -> None:
    deb = build_deb(RICH, control=control_text("tool", "1:2.0-3", "amd64"))
    [done] = exporting.export(deb)
    sha = sha256(deb)
    assert (done.sha256, done.package, done.version, done.architecture, done.new) == (
        sha, "tool", "1:2.0-3", "amd64", True
    )  # fmt: skip
    repo = Repo(exporting.repo)
    assert repo.rev_parse(data_ref(sha)) == done.data_commit
    assert repo.rev_parse(control_ref(sha)) == done.control_commit
    for commit in (done.data_commit, done.control_commit):
        assert _meta(exporting.repo, commit, "dpkg.package") == "tool"
        assert _meta(exporting.repo, commit, "dpkg.version") == "1:2.0-3"
        assert _meta(exporting.repo, commit, "dpkg.architecture") == "amd64"
        assert _meta(exporting.repo, commit, "dpkg.sha256") == sha
        control = ostree("show", "--print-metadata-key=dpkg.control", commit, repo=exporting.repo)
        assert "Package: tool\\nVersion: 1:2.0-3" in control
        shown = ostree("show", commit, repo=exporting.repo)
        assert "Date:  1970-01-01 00:00:00 +0000" in shown  # fixed, never "now"
    control_tree = ostree("ls", "-R", done.control_commit, repo=exporting.repo)
    assert "/control" in control_tree
    row = _rows(exporting)[sha]
    assert (row.data_commit, row.control_commit, row.dropped) == (
        done.data_commit, done.control_commit, []
    )  # fmt: skip
    # the summary lists the refs and is signed with the server's key
    summary = ostree("summary", "--view", repo=exporting.repo)
    assert data_ref(sha) in summary and control_ref(sha) in summary
    assert (exporting.repo / "summary.sig").is_file()


def test_exported_debs_are_skipped_unless_their_ref_is_gone(exporting: Home) -> None:
    one, two = build_deb(RICH), build_deb([Entry("x", b"x\n")], control=control_text("x"))
    first = exporting.export(one, two)
    assert [e.new for e in first] == [True, True]
    again = exporting.export(one, two, one)
    assert [e.new for e in again] == [False, False]
    assert [e.data_commit for e in again] == [e.data_commit for e in first]
    # the repository lost a ref (restored from an old backup): exported again
    ostree("refs", "--delete", data_ref(sha256(two)), repo=exporting.repo)
    third = exporting.export(one, two)
    assert [e.new for e in third] == [False, True]
    assert third[1].data_commit == first[1].data_commit


def test_the_same_deb_gives_the_same_commits_in_another_home(
    exporting: Home, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """Another home: another database, signing key, repository and day."""
    deb = build_deb(RICH, compression="zst")
    [here] = exporting.export(deb)
    other_home = tmp_path / "other"
    assert run_cli("--home", str(other_home), "init").code == 0
    ctx = context_of(other_home)
    try:
        assert ctx.signer.fingerprint != exporting.ctx.signer.fingerprint
        sha = ctx.store.put_bytes(deb).sha256
        [there] = export_debs(ctx, [DebRef(sha)])
    finally:
        ctx.close()
    assert (there.data_commit, there.control_commit) == (here.data_commit, here.control_commit)


def test_two_exporters_of_the_same_debs_at_once_agree(exporting: Home) -> None:
    """Two workers given the same debs: both succeed, one row each, the same commits."""
    debs = [build_deb(RICH), build_deb([Entry("y", b"y\n")], control=control_text("y"))]
    refs = [DebRef(exporting.store(d)) for d in debs]
    contexts = [context_of(exporting.mirror.home) for _ in range(2)]
    start = threading.Barrier(2)

    def run(ctx: Any) -> list[str]:
        start.wait()
        return [e.data_commit for e in export_debs(ctx, refs)]

    try:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(run, contexts)
    finally:
        for ctx in contexts:
            ctx.close()
    assert first == second
    rows = _rows(exporting)
    assert sorted(rows) == sorted(sha256(d) for d in debs)
    assert [rows[sha256(d)].data_commit for d in debs] == first
    summary = ostree("summary", "--view", repo=exporting.repo)
    assert all(data_ref(sha256(d)) in summary for d in debs)


def test_a_hostile_deb_commits_nothing_and_records_nothing(exporting: Home) -> None:
    good = build_deb(RICH)
    hostile = build_deb([Entry("lib", type="symlink", link="/etc"), Entry("lib/passwd", b"x")])
    with pytest.raises(BadDeb, match="through an earlier symlink"):
        exporting.export(good, hostile)
    rows = _rows(exporting)
    assert set(rows) == {sha256(good)}  # the deb before it stays exported
    assert Repo(exporting.repo).refs() == sorted(
        [data_ref(sha256(good)), control_ref(sha256(good))]
    )


def test_a_deb_neither_stored_nor_listed_is_not_found(exporting: Home) -> None:
    with pytest.raises(NotFound, match="not stored and no archive lists it"):
        export_debs(exporting.ctx, [DebRef("ab" * 32)])


def test_a_corrupt_stored_blob_is_not_exported(exporting: Home) -> None:
    deb = build_deb(RICH)
    sha = exporting.store(deb)
    path = exporting.ctx.store.local_path(sha)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(deb[:-1] + b"!")
    with pytest.raises(Exception, match="does not hash to its sha256"):
        export_debs(exporting.ctx, [DebRef(sha)])
    assert _rows(exporting) == {}


def test_cli_fetches_on_demand_then_exports(exporting: Home, fixture_archive: Any) -> None:
    archive = fixture_archive([Pkg("hello", "1.0"), Pkg("libfoo", "2.1")], suite="bookworm")
    m = exporting.mirror
    m.add(archive)  # on_demand: nothing of the pool is stored by the sync
    m.sync()
    result = m.cli("ostree", "export", "--version", "1.0.0", "hello", "--json")
    assert result.code == 0, result.stderr
    out = json.loads(result.stdout)
    sha = archive.sha256(Pkg("hello", "1.0").filename)
    assert (out["exported"], out["skipped"]) == (1, 0)
    assert out["debs"][0]["data"] == {
        "ref": data_ref(sha),
        "commit": out["debs"][0]["data"]["commit"],
    }
    assert exporting.ctx.store.exists(sha)  # fetched through, verified, stored
    again = m.cli("ostree", "export", "--version", "1.0.0", "hello")
    assert again.code == 0 and "already exported" in again.stdout
    # by lockfile: hello is skipped, libfoo fetched and exported
    lock = m.cli("lock", "--version", "1.0.0", "--arch", "amd64", "hello", "libfoo")
    assert lock.code == 0, lock.stderr
    path = m.home / "lock.json"
    path.write_text(lock.stdout)
    by_lock = json.loads(m.cli("ostree", "export", "--lockfile", str(path), "--json").stdout)
    assert (by_lock["exported"], by_lock["skipped"]) == (1, 1)
    assert sorted(d["package"] for d in by_lock["debs"]) == ["hello", "libfoo"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--version", "1.0.0", "nosuch"], "has no binary package nosuch"),
        (["--version", "9.9.9", "hello"], "9.9.9"),
        (["hello"], "Give --version REF and packages, or --lockfile FILE"),
        (["--version", "1.0.0", "Bad Name"], "is not a package name"),
        (["--lockfile", "/nonexistent/lock.json"], "Cannot read /nonexistent/lock.json"),
    ],
    ids=["unknown package", "unknown version", "no version", "bad name", "no lockfile"],
)
def test_cli_errors_are_one_sentence(
    exporting: Home, fixture_archive: Any, args: list[str], words: str
) -> None:
    m = exporting.mirror
    m.add(fixture_archive([Pkg("hello", "1.0")], suite="bookworm"))
    m.sync()
    result = m.cli("ostree", "export", *args)
    assert result.code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (exporting.repo / "refs" / "heads" / "dpkg").exists()


def test_a_removed_repository_is_created_again(exporting: Home) -> None:
    deb = build_deb(RICH)
    [first] = exporting.export(deb)
    shutil.rmtree(exporting.repo)
    [again] = exporting.export(deb)  # the row remains, the ref is gone: exported again
    assert again.new and again.data_commit == first.data_commit
