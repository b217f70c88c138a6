"""``repoversion gc`` on each database and each blob store: which versions go, what a
dropped version answers, which blobs are freed and when, and that a dry run reports the
same numbers and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.archives import Pkg
from tests.gc.conftest import Home

from repoversion.storage import FileSystemStore


def _versions(home: Home) -> list[str]:
    return home.mirror.versions()


def test_keep_n_keeps_the_tagged_and_the_newest(history: Home) -> None:
    home = history
    assert home.mirror.cli("tag", "stable", "1.1.0").code == 0
    report = home.gc("--keep", "1")
    assert report["dropped"] == ["1.0.0", "1.2.0"]
    assert report["kept"] == 2
    assert _versions(home) == ["1.3.0", "1.1.0"]
    # a dropped version answers "gone", everywhere a ref is read
    for args in (["show", "1.0.0"], ["packages", "1.2.0"], ["diff", "1.0.0", "1.3.0"]):
        result = home.mirror.cli(*args)
        assert result.code == 1
        assert result.stderr.strip().endswith("was deleted."), result.stderr
    history_rows = json.loads(home.mirror.cli("history", "hello", "--json").stdout)
    assert [h["repoversions"] for h in history_rows] == [["1.1.0"], ["1.3.0"]]
    # what the kept versions hold is intact; a diff across dropped ones still works
    diff = home.mirror.diff("1.1.0", "1.3.0")
    assert [u["name"] for u in diff["upgraded"]] == ["hello"]
    assert home.packages["1.1.0"] == {
        p["name"]: p for p in json.loads(home.mirror.cli("packages", "stable", "--json").stdout)
    }
    # numbers are never given again
    assert home.publish(Pkg("hello", "5.0")) == "1.4.0"
    assert home.gc("--keep", "1")["dropped"] == ["1.3.0"]
    assert _versions(home) == ["1.4.0", "1.1.0"]
    assert home.publish(Pkg("extra", "1.0")) == "1.5.0"


def test_without_a_rule_no_version_is_dropped(history: Home) -> None:
    report = history.gc("--grace", "0")
    assert report["dropped"] == [] and report["kept"] == 4
    assert report["freed"] == {"blobs": 0, "bytes": 0}  # every blob is some version's
    assert set(report["rows"].values()) == {0}


def test_keep_since(make_home: Callable[..., Home]) -> None:
    home = make_home()
    for day in (1, 2, 3, 4):
        home.mirror.env["REPOVERSION_NOW"] = f"2025-06-0{day}T12:00:00Z"
        home.publish(Pkg("hello", f"{day}.0"))
    assert home.gc("--keep-since", "2025-06-03", "--dry-run")["dropped"] == ["1.0.0", "1.1.0"]
    assert home.gc("--keep-since", "2025-06-02T12:00:00Z", "--keep", "1")["dropped"] == ["1.0.0"]
    assert _versions(home) == ["1.3.0", "1.2.0", "1.1.0"]
    # a timestamp names the newest kept version created by then
    assert home.mirror.show("20250602T235959Z")["repoversion"] == "1.1.0"
    result = home.mirror.cli("show", "20250601T235959Z")
    assert result.code == 1 and "No repoversion was created at or before" in result.stderr


def test_blobs_are_spared_within_the_grace_and_freed_with_grace_0(history: Home) -> None:
    home = history
    needed = {sha for v in ("1.3.0",) for sha in home.files(v).values()}
    only_dropped = {
        sha for v in ("1.0.0", "1.1.0", "1.2.0") for sha in home.files(v).values()
    } - needed
    assert {home.deb(v, "hello") for v in ("1.0.0", "1.1.0", "1.2.0")} <= only_dropped
    stored = home.stored()
    assert needed | only_dropped <= stored

    report = home.gc("--keep", "1")  # the default grace, 1h: everything here is younger
    assert report["dropped"] == ["1.0.0", "1.1.0", "1.2.0"]
    assert report["freed"] == {"blobs": 0, "bytes": 0}
    assert report["spared"]["blobs"] >= len(only_dropped)
    assert home.stored() == stored

    report = home.gc("--grace", "0")
    assert report["dropped"] == []
    gone = stored - home.stored()
    assert gone >= only_dropped and not gone & needed
    assert report["freed"]["blobs"] == len(gone) == report["stored"]["blobs"] - len(home.stored())
    assert report["freed"]["bytes"] == report["stored"]["bytes"] - sum(
        b.size for b in home.store.iter_stored()
    )
    assert home.blob_rows() <= home.stored()  # no row names a blob that is gone
    assert home.gc("--grace", "0")["freed"] == {"blobs": 0, "bytes": 0}
    # the kept version is whole, and the next sync starts from it
    assert home.mirror.sync()["new"] is False
    assert all(sha in home.stored() for sha in needed)


def test_a_dry_run_reports_the_same_numbers_and_changes_nothing(history: Home) -> None:
    home = history
    stored, rows = home.stored(), home.blob_rows()
    dry = home.gc("--keep", "2", "--grace", "0", "--dry-run")
    assert dry["dry_run"] is True and dry["leftovers"] is None
    assert home.stored() == stored and home.blob_rows() == rows
    assert _versions(home) == ["1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    assert dry["dropped"] == ["1.0.0", "1.1.0"] and dry["freed"]["blobs"] > 0
    real = home.gc("--keep", "2", "--grace", "0")
    assert real["dry_run"] is False and real["leftovers"] == 0
    same = ("dropped", "kept", "rows", "stored", "freed", "spared", "ostree")
    assert {k: dry[k] for k in same} == {k: real[k] for k in same}
    assert _versions(home) == ["1.3.0", "1.2.0"]


def test_what_the_next_sync_starts_from_is_kept(history: Home) -> None:
    """The newest version's open rows and stanza sets: a re-sync after a collection
    parses only what changed, exactly as before it."""
    home = history
    home.gc("--keep", "1", "--grace", "0")
    assert home.publish(Pkg("hello", "5.0"), Pkg("extra", "1.0")) == "1.4.0"
    assert set(home.packages["1.4.0"]) == {"hello", "world", "extra"}
    assert home.mirror.diff("1.3.0", "1.4.0")["counts"]["added"] == 1


def test_bad_input_is_one_sentence(history: Home) -> None:
    assert history.gc_fails("--grace", "soon") == (
        "error: The grace must be 0 or a duration like 1h, 30m or 2d, got 'soon'."
    )
    assert history.gc_fails("--keep-since", "yesterday") == (
        "error: keep-since must be a date like 2026-01-31 or an instant like "
        "2026-01-31T12:00:00Z, got 'yesterday'."
    )
    result = history.mirror.cli("gc", "--keep", "0")
    assert result.code == 2 and "Invalid value for '--keep'" in result.stderr
    assert _versions(history) == ["1.3.0", "1.2.0", "1.1.0", "1.0.0"]


@pytest.mark.parametrize("backend", ["fs"], indirect=True)
def test_the_human_report(history: Home) -> None:
    out = history.mirror.cli("gc", "--keep", "3", "--dry-run").stdout.splitlines()
    assert out[0] == "Would drop 1 repoversion (1.0.0); 3 kept."
    assert out[1] == "Would free 0 blobs (0 bytes)."
    assert out[2].startswith("Spared ") and out[2].endswith("within the grace (1h).")


@pytest.mark.parametrize("backend", ["fs"], indirect=True)
def test_a_dead_writers_leftovers_are_removed(history: Home) -> None:
    store = history.store
    assert isinstance(store, FileSystemStore)
    dead = store.tmp_dir / "blob-dead.part"
    dead.write_bytes(b"half a blob")  # no writer holds it
    with store.writer() as live:
        live.write(b"being written")
        assert history.gc("--dry-run")["leftovers"] is None
        assert dead.exists()
        assert history.gc()["leftovers"] == 1
        assert not dead.exists()
        assert len(list(store.tmp_dir.glob("*.part"))) == 1  # the live writer's
        digest = live.commit().sha256
    assert store.read_bytes(digest) == b"being written"


def test_a_home_without_versions(home: Path, run_cli: Callable[..., Any]) -> None:
    result = run_cli("--home", str(home), "gc", "--keep", "1", "--grace", "0", "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["dropped"], report["kept"], report["freed"]) == ([], 0, {"blobs": 0, "bytes": 0})
