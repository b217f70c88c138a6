"""A mirror home on each database and each blob store with a history of versions, and
``repoversion gc`` to run over it.

``history`` makes four versions of an ``immediate`` archive, each upgrading ``hello``
(so each version has a deb, index files and an ``index.json`` of its own) while
``world`` stays; ``Home.gc(...)`` runs ``gc --json`` and returns its report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import NOW, Mirror

from repoversion.storage import BlobStore, FileSystemStore


@dataclass
class Home:
    """A home, its store reached directly, its database URL and its fixture archive."""

    mirror: Mirror
    store: BlobStore
    db_url: str
    archive: FixtureArchive
    #: version → {package name: its packages --json row}
    packages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def gc(self, *args: str) -> dict[str, Any]:
        """``gc --json ARGS``, which must succeed quietly; its report."""
        result = self.mirror.cli("gc", "--json", *args)
        assert result.code == 0, result.stderr
        assert result.stderr == "", result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    def gc_fails(self, *args: str) -> str:
        """``gc ARGS``, which must fail with one sentence; that sentence."""
        result = self.mirror.cli("gc", *args)
        assert result.code != 0 and result.stdout == "", result.stdout
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]

    def publish(self, *pkgs: Pkg, remove: tuple[str, ...] = ()) -> str:
        """Change the archive, sync it, remember the new version's packages; its number."""
        for pkg in pkgs:
            self.archive.add(pkg)
        for name in remove:
            self.archive.remove(name)
        self.archive.publish()
        version = str(self.mirror.sync()["repoversion"])
        listed = json.loads(self.mirror.cli("packages", version, "--json").stdout)
        self.packages[version] = {p["name"]: p for p in listed}
        return version

    def deb(self, version: str, name: str) -> str:
        """The sha256 of package ``name``'s deb in ``version``."""
        return str(self.packages[version][name]["sha256"])

    def files(self, version: str) -> dict[str, str]:
        """Every blob ``version`` needs to be served: path → sha256 (its index.json, its
        index files, its pool files)."""
        index = self.mirror.show(version)
        out = {
            "index.json": self.sql_one(
                "SELECT index_sha256 FROM repoversion WHERE version = :v", v=version
            )
        }
        for arc, data in index["archives"].items():
            for suite, s in data["suites"].items():
                for path, f in s["files"].items():
                    out[f"{arc}/dists/{suite}/{path}"] = f["sha256"]
        for p in self.packages[version].values():
            out[f"{p['archive']}/{p['filename']}"] = p["sha256"]
        return out

    def stored(self) -> set[str]:
        return set(self.store.iter_digests())

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(query), params)]
        finally:
            engine.dispose()

    def sql_one(self, query: str, **params: Any) -> Any:
        return self.sql(query, **params)[0][0]

    def blob_rows(self) -> set[str]:
        return {r[0] for r in self.sql("SELECT sha256 FROM blob")}


@pytest.fixture(params=["fs", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_home(
    tmp_path: Path,
    run_cli: Callable[..., Any],
    db_url: str,
    backend: str,
    fixture_archive: Callable[..., FixtureArchive],
    request: pytest.FixtureRequest,
) -> Callable[..., Home]:
    """Factory: an initialised home on ``db_url`` and ``backend`` with an ``immediate``
    fixture archive added (not synced)."""

    def make(policy: str = "immediate", mode: str = "signed") -> Home:
        home = tmp_path / "home"
        home.mkdir()
        (home / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
        env = {"REPOVERSION_NOW": NOW}
        store: BlobStore = FileSystemStore(home / "blobs")
        if backend == "s3":
            env["REPOVERSION_STORAGE_URL"] = f"s3://{request.getfixturevalue('s3_bucket')}/rv"
            env["REPOVERSION_S3_ENDPOINT_URL"] = request.getfixturevalue("s3_endpoint")
            store = request.getfixturevalue("make_s3_store")(prefix="rv")
        result = run_cli("--home", str(home), "init", env=env)
        assert result.code == 0, result.stderr
        mirror = Mirror(home, run_cli, env)
        archive = fixture_archive([Pkg("world", "1.0")])
        mirror.add(archive, "--policy", policy, "--mode", mode)
        return Home(mirror, store, db_url, archive)

    return make


@pytest.fixture
def history(make_home: Callable[..., Home]) -> Home:
    """Versions 1.0.0, 1.1.0, 1.2.0, 1.3.0: ``hello`` 1.0 to 4.0 beside ``world`` 1.0."""
    home = make_home()
    for n in range(1, 5):
        home.publish(Pkg("hello", f"{n}.0"))
    assert list(home.packages) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    return home
