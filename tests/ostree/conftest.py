"""A home on SQLite or PostgreSQL with its context, for exporting debs to its ostree
repository; and an ``ostree`` client repository pulling from a running server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.ostree.export import DebRef, Exported, export_debs
from tests.mirror.conftest import NOW, Mirror
from tests.web.running import mirror_on_db

__all__ = ["mirror_on_db"]


@dataclass
class Home:
    """A mirror home and the actions' context over it."""

    mirror: Mirror
    ctx: Context

    def store(self, deb: bytes) -> str:
        """Put a deb in the blob store (as a sync would); returns its sha256."""
        return self.ctx.store.put_bytes(deb).sha256

    def export(self, *debs: bytes) -> list[Exported]:
        return export_debs(self.ctx, [DebRef(self.store(d)) for d in debs])

    @property
    def repo(self) -> Path:
        return self.ctx.settings.ostree_repo_path


def context_of(home: Path) -> Context:
    return Context(load_settings(home, environ={"REPOVERSION_NOW": NOW}))


@pytest.fixture
def exporting(mirror_on_db: Mirror) -> Iterator[Home]:
    """A home on each database (``db_url``), with its context."""
    ctx = context_of(mirror_on_db.home)
    try:
        yield Home(mirror_on_db, ctx)
    finally:
        ctx.close()


def ostree(*args: str, repo: Path) -> str:
    """Run the ``ostree`` client on ``repo``; fails the test with its message."""
    proc = subprocess.run(["ostree", *args, f"--repo={repo}"], capture_output=True, text=True)
    assert proc.returncode == 0, f"ostree {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@dataclass
class Client:
    """A ``bare-user`` ostree repository with the server as remote ``rv``, GPG checked."""

    repo: Path

    def pull(self, ref: str) -> str:
        ostree("pull", "rv", ref, repo=self.repo)
        return ostree("rev-parse", f"rv:{ref}", repo=self.repo).strip()

    def checkout(self, ref: str, to: Path) -> Path:
        ostree("checkout", "-U", f"rv:{ref}", str(to), repo=self.repo)
        return to

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ostree", *args, f"--repo={self.repo}"], capture_output=True, text=True
        )


def client_of(tmp_path: Path, url: str, key: Path) -> Client:
    """``ostree init --mode=bare-user`` + ``remote add --gpg-import=KEY rv URL/ostree``."""
    repo = tmp_path / "client"
    repo.mkdir(parents=True)
    ostree("init", "--mode=bare-user", repo=repo)
    ostree(
        "remote", "add", f"--gpg-import={key}", "--set=gpg-verify-summary=true",
        "rv", f"{url}/ostree", repo=repo,
    )  # fmt: skip
    return Client(repo)
