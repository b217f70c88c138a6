"""What fsck expects of the store, and what a repair does with each kind of blob: pool
files under ``on_demand``, generated blobs, blobs nothing needs, blobs only dropped
versions held, a version's own index.json. On a filesystem store (the S3 store answers
the same calls, tests/fsck/test_fsck.py runs both)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.serving.service import Serving
from tests.fixtures.archives import FixtureArchive, Pkg
from tests.fsck.conftest import Checked, StoreAccess, store_of
from tests.mirror.conftest import Mirror

FS = pytest.mark.parametrize("backend", ["fs"])
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _checked(mirror: Mirror, arc: FixtureArchive, request: pytest.FixtureRequest) -> Checked:
    listed = json.loads(mirror.cli("packages", "latest", "--json").stdout)
    packages = {p["name"]: p for p in listed}
    return Checked(mirror, store_of(mirror, "fs", request), arc, packages)


@FS
@SQLITE
def test_on_demand_files_never_asked_for_are_not_missing(
    make_home: Callable[..., Mirror],
    fixture_archive: Callable[..., FixtureArchive],
    request: pytest.FixtureRequest,
) -> None:
    mirror = make_home()
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0")])
    mirror.add(arc)  # on_demand
    mirror.sync()
    home = _checked(mirror, arc, request)
    hello, _ = home.deb("hello")
    assert not home.store.exists(hello)
    code, report, _ = home.fsck()
    assert (code, report["missing"]) == (0, [])
    # once fetched it is recorded, so losing it is found and the repair fetches it again
    assert mirror.cli("materialize", "1.0.0").code == 0
    home.store.delete(hello)
    code, report, _ = home.fsck()
    assert code == 1 and [m["sha256"] for m in report["missing"]] == [hello]
    code, report, _ = home.fsck("--repair")
    assert code == 0 and [r["sha256"] for r in report["repaired"]] == [hello]
    assert home.store.verify(hello)


def _signed_release(home: Mirror) -> tuple[str, str]:
    """Serve 1.0.0's signed InRelease in-process (generated once, kept as a derived row);
    returns its sha256 and bytes' first line."""
    ctx = Context(load_settings(home.home))
    serving = Serving(ctx)
    try:
        target = serving.target(serving.resolve("1.0.0"), "debian", "dists/bookworm/InRelease")
        first = ctx.store.read_bytes(target.sha256).split(b"\n", 1)[0].decode()
        return target.sha256, first
    finally:
        serving.close()
        ctx.close()


@FS
@SQLITE
def test_a_lost_generated_release_is_generated_again(checked: Checked) -> None:
    release, first_line = _signed_release(checked.mirror)
    assert first_line == "-----BEGIN PGP SIGNED MESSAGE-----"
    checked.store.delete(release)
    code, report, stderr = checked.fsck()
    assert code == 1 and f"error: blob {release} is missing (needed by the generated " in stderr
    (needed,) = report["missing"][0]["needed_by"]
    assert needed.startswith("the generated release/")
    code, report, _ = checked.fsck("--repair")
    assert code == 0
    assert report["repaired"] == [{"sha256": release, "how": "generated again on its next use"}]
    assert checked.fsck()[0] == 0
    again, first_line = _signed_release(checked.mirror)
    assert checked.store.exists(again) and first_line.startswith("-----BEGIN PGP")
    assert checked.fsck()[0] == 0


@FS
@SQLITE
def test_a_corrupt_blob_nothing_needs_is_quarantined_and_forgotten(checked: Checked) -> None:
    junk = checked.store.put_bytes(b"nobody records me").sha256
    damaged = checked.access.flip(junk)
    code, report, stderr = checked.fsck("--repair")
    assert (code, stderr) == (0, "")
    assert [c["sha256"] for c in report["corrupt"]] == [junk]
    assert report["repaired"] == [{"sha256": junk, "how": "nothing kept needs it; forgotten"}]
    assert checked.access.quarantined(f"quarantine/{junk}") == damaged


@FS
@SQLITE
def test_a_lost_index_json_cannot_be_repaired(checked: Checked) -> None:
    index = checked.mirror.show("1.0.0")  # read before it is lost
    assert index["repoversion"] == "1.0.0"
    sha = _index_sha256(checked, "1.0.0")
    checked.store.delete(sha)
    code, report, stderr = checked.fsck("--repair")
    assert code == 1
    assert report["unrepaired"] == [
        {"sha256": sha, "why": "the index.json of repoversion 1.0.0 has no other copy"}
    ]
    assert stderr.splitlines()[-1] == "error: 1 of 1 bad blobs could not be repaired."


def _index_sha256(checked: Checked, version: str) -> str:
    with _engine(checked.mirror).connect() as conn:
        sha: str = conn.execute(
            text("SELECT index_sha256 FROM repoversion WHERE version = :v"), {"v": version}
        ).scalar_one()
    return sha


def _engine(mirror: Mirror) -> Any:
    return create_engine(load_settings(mirror.home).database_url)


@FS
def test_only_kept_versions_need_their_files(checked: Checked) -> None:
    """Once 1.0.0 is dropped (as gc drops it), what only it held is needed by nothing: a
    blob row left behind is forgotten, not fetched again."""
    old, _ = checked.deb("hello")
    checked.archive.add(Pkg("hello", "1.1"))
    checked.archive.publish()
    assert checked.mirror.sync()["repoversion"] == "1.1.0"
    engine = _engine(checked.mirror)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE repoversion SET dropped = :now WHERE version = '1.0.0'"),
            {"now": datetime(2025, 6, 2, tzinfo=UTC)},
        )
    engine.dispose()
    checked.store.delete(old)
    code, report, _ = checked.fsck()
    assert code == 1
    assert report["missing"] == [{"sha256": old, "needed_by": ["its blob row"]}]
    code, report, _ = checked.fsck("--repair")
    assert code == 0
    assert report["repaired"] == [{"sha256": old, "how": "nothing kept needs it; forgotten"}]
    assert not checked.store.exists(old)
    assert checked.fsck()[0] == 0


@FS
@SQLITE
def test_progress_counts_every_byte(checked: Checked) -> None:
    from repoversion.actions.fsck import fsck

    seen: list[tuple[str, int, int]] = []
    ctx = Context(load_settings(checked.mirror.home))
    try:
        report = fsck(ctx, threads=2, progress=lambda *a: seen.append(a))
    finally:
        ctx.close()
    assert report.ok
    stages = {stage for stage, _, _ in seen}
    assert stages == {"verify"}
    assert seen[-1][1] == seen[-1][2] == sum(b.size for b in checked.store.iter_blobs())


def test_store_access_is_real(tmp_path: Any) -> None:
    """The helper damages bytes for real (a no-op would make the tests above vacuous)."""
    from repoversion.storage import FileSystemStore

    access = StoreAccess(FileSystemStore(tmp_path))
    sha = access.store.put_bytes(b"abcdef").sha256
    assert access.flip(sha) == b"abc\x9bef"
    assert not access.store.verify(sha)
