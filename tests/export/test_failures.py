"""What ``export`` refuses, and failures that leave nothing looking complete."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import SuiteRelease
from repoversion.db.session import transaction
from tests.export.conftest import Synced, check_sh
from tests.fixtures.archives import ArchiveServer, Pkg


def test_a_non_empty_directory_is_refused_and_left_alone(synced: Synced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    message = synced.export_fails("1.0.0", dest)
    assert "is not empty" in message
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]
    (dest / "notes.txt").unlink()
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in synced.export_fails("1.0.0", tmp_path / "file")


def test_an_unknown_ref_writes_nothing(synced: Synced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "out"
    assert synced.export_fails("9.9.9", dest) == "error: No repoversion 9.9.9."
    assert synced.export_fails("nosuchtag", dest).startswith("error: No repoversion, tag")
    assert not dest.exists()


def test_a_lockfile_for_files_the_version_lacks_writes_nothing(synced: Synced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "lock.json"
    made = synced.mirror.cli(
        "lock", "--version", "1.0.0", "--arch", "amd64", "hello", "-o", str(lock)
    )
    assert made.code == 0, made.stderr
    data = json.loads(lock.read_text())
    data["packages"][0]["sha256"] = "0" * 64
    lock.write_text(json.dumps(data))
    message = synced.export_fails("1.0.0", tmp_path / "out", "--lockfile", str(lock))
    assert "is not in repoversion 1.0.0" in message
    lock.write_text("{not json")
    assert "error:" in synced.export_fails("1.0.0", tmp_path / "out", "--lockfile", str(lock))
    assert not (tmp_path / "out").exists()


def test_upstream_serving_wrong_bytes_on_demand_fails_leaving_nothing(
    synced: Synced, tmp_path, archive_server: ArchiveServer
) -> None:  # type: ignore[no-untyped-def]
    pkg = Pkg("other", "3.0")
    size = synced.debian.deb_path(pkg).stat().st_size
    archive_server.add_rule(f"*{pkg.filename}", body=b"\0" * size)
    for dest in (tmp_path / "new", tmp_path / "empty"):
        if dest.name == "empty":
            dest.mkdir()
        message = synced.export_fails("1.0.0", dest)
        assert "could not be fetched" in message and "nothing was exported" in message
        assert not dest.exists() or list(dest.iterdir()) == []
    assert (tmp_path / "empty").is_dir()
    # the bad bytes were never stored: once upstream is right again, the export works
    archive_server.clear_rules()
    out = synced.export("1.0.0", tmp_path / "new")
    assert out["downloaded"] == 1


def test_a_corrupt_stored_blob_fails_the_check_after_writing(synced: Synced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert synced.mirror.cli("materialize", "1.0.0").code == 0
    deb = synced.debian.deb_path(Pkg("other", "3.0")).read_bytes()
    digest = hashlib.sha256(deb).hexdigest()
    blob = synced.mirror.home / "blobs" / "sha256" / digest[:2] / digest[2:]
    blob.chmod(0o644)
    blob.write_bytes(deb[:-1] + b"\xff")
    dest = tmp_path / "out"
    message = synced.export_fails("1.0.0", dest)
    assert "did not verify" in message and "other_3.0_amd64.deb has sha256" in message
    assert not dest.exists()


def test_exports_on_each_database_and_store(  # type: ignore[no-untyped-def]
    mirror_on_db, fixture_archive, db_url, s3_endpoint, s3_bucket, tmp_path: Path
) -> None:
    """SQLite with the filesystem store, PostgreSQL with S3 (moto on loopback)."""
    if db_url.startswith("postgresql"):
        mirror_on_db.env.update(
            REPOVERSION_STORAGE_URL=f"s3://{s3_bucket}/rv", REPOVERSION_S3_ENDPOINT_URL=s3_endpoint
        )
    arc = fixture_archive([Pkg("hello", "1.0", depends="libfoo1"), Pkg("libfoo1", "2.0")])
    mirror_on_db.add(arc)
    mirror_on_db.sync()
    synced = Synced(mirror_on_db, arc, arc)
    root = tmp_path / "export"
    out = synced.export("latest", root)
    assert (out["repoversion"], out["pool_files"], out["downloaded"]) == ("1.0.0", 2, 2)
    for pkg in arc.packages():
        assert (root / "debian" / pkg.filename).read_bytes() == arc.deb_path(pkg).read_bytes()
    done = check_sh(root)
    assert done.returncode == 0, done.stderr


def test_a_version_whose_upstream_release_was_not_kept(synced: Synced, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Versions synced before the sync kept upstream's signed Release (signed mode) are
    exported with a warning, and check.sh says what it cannot check."""
    ctx = Context(load_settings(synced.mirror.home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            for row in s.scalars(select(SuiteRelease)):
                row.fields = {k: v for k, v in row.fields.items() if k != "upstream"}
    finally:
        ctx.close()
    root = tmp_path / "export"
    out = synced.export("1.0.0", root)
    assert len(out["warnings"]) == 1 and "debian/bookworm" in out["warnings"][0]
    index = json.loads((root / "provenance/index.json").read_text())
    assert index["suites"]["debian/bookworm"]["upstream"] is None
    # the verbatim archive serves upstream's own Release: still proven
    assert index["suites"]["extra/bookworm"]["upstream"]["InRelease"]["path"]
    entry = index["files"]["debian/dists/bookworm/main/binary-amd64/Packages.gz"]
    assert entry["listed_by"] is None
    bad = check_sh(root)
    assert (
        bad.returncode == 1
        and "debian/bookworm: upstream's signed Release was not kept" in bad.stderr
    )
