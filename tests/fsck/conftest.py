"""A mirror home on each database and each blob store, and a way to damage its blobs
behind repoversion's back (as a failing disk or a careless operator would)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from repoversion.storage import BlobStore, FileSystemStore
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.mirror.conftest import NOW, Mirror


@dataclass
class StoreAccess:
    """A store's bytes, reached around the store's own checks."""

    store: BlobStore
    s3_client: Any = None

    def overwrite(self, sha256: str, data: bytes) -> None:
        """Put ``data`` at ``sha256``'s address, whatever it hashes to."""
        if isinstance(self.store, FileSystemStore):
            path = self.store.path_of(sha256)
            os.chmod(path, stat.S_IWUSR | stat.S_IRUSR)
            path.write_bytes(data)
            os.chmod(path, 0o444)
        else:
            key = self.store.key_of(sha256)  # type: ignore[attr-defined]
            self.s3_client.put_object(Bucket=self.store.bucket, Key=key, Body=data)  # type: ignore[attr-defined]

    def flip(self, sha256: str) -> bytes:
        """Flip the bits of a blob's middle byte; returns the damaged bytes."""
        data = bytearray(self.store.read_bytes(sha256))
        data[len(data) // 2] ^= 0xFF
        self.overwrite(sha256, bytes(data))
        return bytes(data)

    def truncate(self, sha256: str) -> bytes:
        """Keep the first half of a blob; returns what is left."""
        data = self.store.read_bytes(sha256)[: self.store.size(sha256) // 2]
        self.overwrite(sha256, data)
        return data

    def quarantined(self, where: str) -> bytes:
        """The bytes quarantined at ``where`` (relative to the store's root)."""
        if isinstance(self.store, FileSystemStore):
            return (self.store.root / where).read_bytes()
        store: Any = self.store
        key = f"{store.prefix}/{where}" if store.prefix else where
        body: bytes = self.s3_client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
        return body


@dataclass
class Checked:
    """A home with one synced archive, its store reached directly, and fsck to run."""

    mirror: Mirror
    access: StoreAccess
    archive: FixtureArchive
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def store(self) -> BlobStore:
        return self.access.store

    def fsck(self, *args: str) -> tuple[int, dict[str, Any], str]:
        """``fsck --json ARGS``: exit status, the JSON report, stderr."""
        result = self.mirror.cli("fsck", "--json", *args)
        assert "Traceback" not in result.stderr, result.stderr
        return result.code, json.loads(result.stdout), result.stderr

    def deb(self, name: str) -> tuple[str, str]:
        """(sha256, pool path) of package ``name``'s .deb in the first version."""
        p = self.packages[name]
        return p["sha256"], p["filename"]

    def index_file(self, path: str = "main/binary-amd64/Packages.gz") -> str:
        """The sha256 of an index file the first version serves."""
        files = self.mirror.show("1.0.0")["archives"][self.archive.name]["suites"]["bookworm"]
        return str(files["files"][path]["sha256"])


@pytest.fixture(params=["fs", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_home(
    tmp_path: Path,
    run_cli: Callable[..., Any],
    db_url: str,
    backend: str,
    request: pytest.FixtureRequest,
) -> Callable[..., Mirror]:
    """Factory: an initialised home on ``db_url`` and ``backend``, and its store."""

    def make() -> Mirror:
        home = tmp_path / "home"
        home.mkdir()
        (home / "repoversion.toml").write_text(f'database_url = "{db_url}"\n')
        env = {"REPOVERSION_NOW": NOW}
        if backend == "s3":
            env["REPOVERSION_STORAGE_URL"] = f"s3://{request.getfixturevalue('s3_bucket')}/rv"
            env["REPOVERSION_S3_ENDPOINT_URL"] = request.getfixturevalue("s3_endpoint")
        result = run_cli("--home", str(home), "init", env=env)
        assert result.code == 0, result.stderr
        return Mirror(home, run_cli, env)

    return make


def store_of(mirror: Mirror, backend: str, request: pytest.FixtureRequest) -> StoreAccess:
    """The home's blob store, opened as the home opens it."""
    if backend == "fs":
        return StoreAccess(FileSystemStore(mirror.home / "blobs"))
    s3 = request.getfixturevalue("make_s3_store")(prefix="rv")
    return StoreAccess(s3, request.getfixturevalue("s3_client"))


@pytest.fixture
def checked(
    make_home: Callable[..., Mirror],
    backend: str,
    fixture_archive: Callable[..., FixtureArchive],
    request: pytest.FixtureRequest,
) -> Checked:
    """Three packages of an ``immediate`` archive, synced once (1.0.0): every pool file is
    stored."""
    mirror = make_home()
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0"), Pkg("extra", "1.0")])
    mirror.add(arc, "--policy", "immediate")
    assert mirror.sync()["repoversion"] == "1.0.0"
    listed = json.loads(mirror.cli("packages", "1.0.0", "--json").stdout)
    packages = {p["name"]: p for p in listed}
    return Checked(mirror, store_of(mirror, backend, request), arc, packages)
