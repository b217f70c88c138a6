"""The collection prunes the ostree repository: per-deb exports of debs no kept version,
compose or queued job needs are deleted (rows, refs, then objects); the rest stays whole."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.gc.conftest import Home

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.jobs.exports import queue_exports
from repoversion.ostree.composes import record_compose
from repoversion.ostree.export import control_ref, data_ref


def _ostree(repo: Path, *args: str) -> str:
    proc = subprocess.run(["ostree", *args, f"--repo={repo}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _refs(repo: Path) -> set[str]:
    return set(_ostree(repo, "refs").split())


@pytest.mark.parametrize("backend", ["fs"], indirect=True)
def test_exports_nothing_needs_are_pruned(history: Home) -> None:
    home = history
    for version in ("1.0.0", "1.1.0", "1.3.0"):
        result = home.mirror.cli("ostree", "export", "--version", version, "hello")
        assert result.code == 0, result.stderr
    hello = {v: home.deb(v, "hello") for v in ("1.0.0", "1.1.0", "1.2.0", "1.3.0")}
    ctx = Context(load_settings(home.mirror.home, environ=dict(home.mirror.env)))
    repo = ctx.settings.ostree_repo_path
    try:
        # a compose that merged hello 1.1's tree, and a queued export of hello 1.2
        commit = _ostree(
            repo, "commit", "--branch=composes/test", f"--tree=ref={data_ref(hello['1.1.0'])}"
        ).strip()
        with transaction(ctx.sessions) as s:
            record_compose(s, "composes/test", commit, None, [hello["1.1.0"]], datetime.now(UTC))
            queue_exports(s, [hello["1.2.0"]])
    finally:
        ctx.close()
    before = _refs(repo)
    assert {data_ref(hello[v]) for v in ("1.0.0", "1.1.0", "1.3.0")} <= before

    dry = home.gc("--keep", "1", "--grace", "0", "--dry-run")
    assert dry["ostree"] == {"exports": 1, "refs": 2, "objects": 0}
    assert _refs(repo) == before
    report = home.gc("--keep", "1", "--grace", "0")
    assert report["dropped"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert (report["ostree"]["exports"], report["ostree"]["refs"]) == (1, 2)
    assert report["ostree"]["objects"] > 0 and report["warnings"] == []

    assert _refs(repo) == before - {data_ref(hello["1.0.0"]), control_ref(hello["1.0.0"])}
    _ostree(repo, "fsck")  # every ref left is whole
    stored = home.stored()
    assert hello["1.0.0"] not in stored
    assert {hello["1.1.0"], hello["1.2.0"], hello["1.3.0"]} <= stored  # compose, job, kept
    exported = {r[0] for r in home.sql("SELECT sha256 FROM ostree_export")}
    assert exported == {hello["1.1.0"], hello["1.3.0"]}
    summary = _ostree(repo, "summary", "--view")
    assert data_ref(hello["1.0.0"]) not in summary and data_ref(hello["1.3.0"]) in summary
