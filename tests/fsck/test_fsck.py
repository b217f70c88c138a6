"""fsck and repair on each blob store (a directory, S3 through moto) and each database
(SQLite, PostgreSQL): blobs flipped, truncated and deleted behind repoversion's back are
found and named, the corrupt ones quarantined, and repaired from the fixture upstream."""

from __future__ import annotations

from tests.fsck.conftest import Checked


def _shas(entries: list[dict[str, object]]) -> set[str]:
    return {str(e["sha256"]) for e in entries}


def test_a_clean_store_passes(checked: Checked) -> None:
    code, report, stderr = checked.fsck()
    assert (code, stderr) == (0, "")
    assert report["ok"] is True
    assert (report["corrupt"], report["missing"], report["repaired"]) == ([], [], [])
    stored = list(checked.store.iter_blobs())
    assert report["blobs"] == len(stored) > 3  # three debs, index files, index.json…
    assert report["bytes"] == sum(b.size for b in stored)


def test_damage_is_found_quarantined_and_repaired(checked: Checked) -> None:
    flipped, _ = checked.deb("hello")
    truncated = checked.index_file()
    deleted, _ = checked.deb("world")
    original = {sha: checked.store.read_bytes(sha) for sha in (flipped, truncated, deleted)}
    flipped_bytes = checked.access.flip(flipped)
    truncated_bytes = checked.access.truncate(truncated)
    checked.store.delete(deleted)

    code, report, stderr = checked.fsck()
    assert code == 1 and report["ok"] is False
    assert _shas(report["corrupt"]) == {flipped, truncated}
    assert _shas(report["missing"]) == {deleted}
    for sha in (flipped, truncated, deleted):
        assert sha in stderr  # each named by its full sha256
    assert stderr.splitlines()[-1] == (
        "error: fsck found 2 corrupt and 1 missing blobs; `repoversion fsck --repair` "
        "fetches again what upstream still has."
    )
    corrupt = {c["sha256"]: c for c in report["corrupt"]}
    assert corrupt[truncated]["size"] == len(truncated_bytes)
    assert f"{len(truncated_bytes)} bytes of the {len(original[truncated])} recorded" in stderr
    # quarantined, not deleted: the damaged bytes are kept, away from their address
    for sha, damaged in ((flipped, flipped_bytes), (truncated, truncated_bytes)):
        assert corrupt[sha]["quarantined"] == f"quarantine/{sha}"
        assert checked.access.quarantined(f"quarantine/{sha}") == damaged
        assert not checked.store.exists(sha)
    missing = {m["sha256"]: m for m in report["missing"]}
    assert missing[deleted]["needed_by"] == [
        "its blob row",
        f"{checked.archive.name}: {checked.deb('world')[1]}",
    ]

    # quarantined blobs are missing from then on, until repaired
    code, report, _ = checked.fsck()
    assert code == 1
    assert (report["corrupt"], _shas(report["missing"])) == ([], {flipped, truncated, deleted})

    code, report, stderr = checked.fsck("--repair")
    assert (code, stderr) == (0, ""), stderr
    assert report["ok"] is True and report["unrepaired"] == []
    how = {r["sha256"]: r["how"] for r in report["repaired"]}
    assert set(how) == {flipped, truncated, deleted}
    name = checked.archive.name
    assert how[deleted] == f"fetched {name}: {checked.deb('world')[1]} from upstream"
    assert how[truncated].startswith(f"fetched {name}: dists/bookworm/")
    for sha, data in original.items():
        assert checked.store.read_bytes(sha) == data

    code, report, stderr = checked.fsck()
    assert (code, stderr, report["ok"]) == (0, "", True)
    assert checked.access.quarantined(f"quarantine/{flipped}") == flipped_bytes  # still kept


def test_what_upstream_lost_or_changed_is_listed_as_unrepairable(checked: Checked) -> None:
    lost, lost_path = checked.deb("hello")
    changed, changed_path = checked.deb("world")
    fine, _ = checked.deb("extra")
    checked.access.flip(lost)
    checked.store.delete(changed)
    checked.store.delete(fine)
    checked.archive.delete(lost_path)
    checked.archive.write(changed_path, b"not the deb the version recorded")

    code, report, stderr = checked.fsck("--repair")
    assert code == 1 and report["ok"] is False
    why = {u["sha256"]: u["why"] for u in report["unrepaired"]}
    name = checked.archive.name
    assert why == {
        lost: f"upstream no longer has {name}: {lost_path}",
        changed: f"{name}: {changed_path} does not match its SHA256 {changed}",
    }
    assert _shas(report["repaired"]) == {fine}
    assert f"error: blob {lost} cannot be repaired: upstream no longer has" in stderr
    assert f"error: blob {changed} cannot be repaired: {name}: {changed_path}" in stderr
    assert stderr.splitlines()[-1] == "error: 2 of 3 bad blobs could not be repaired."
    assert checked.access.quarantined(f"quarantine/{lost}")  # the damaged copy is kept
    assert not checked.store.exists(changed)  # the other bytes were never stored

    code, report, _ = checked.fsck()
    assert code == 1 and _shas(report["missing"]) == {lost, changed}
