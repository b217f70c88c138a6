"""Large indices are scanned by several processes (repoversion.mirror.scanpool); the
result must be the one a scan in one process gives, and a bad index read by a worker
must be refused with the same sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repoversion.mirror import scanpool
from tests.fixtures.archives import Pkg, SrcPkg
from tests.mirror.conftest import NOW, Mirror

ARCHS = ("amd64", "arm64", "source")


def _packages(m: Mirror, ref: str) -> list[dict[str, object]]:
    result = m.cli("packages", ref, "--json")
    assert result.code == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def _archive(fixture_archive):  # type: ignore[no-untyped-def]
    pkgs: list[Pkg | SrcPkg] = []
    for i in range(12):
        pkgs += [Pkg(f"p{i}", "1.0"), Pkg(f"p{i}", "1.0", architecture="arm64")]
        pkgs.append(SrcPkg(f"p{i}", "1.0-1"))
    # an Architecture: all package is listed in both Packages files: read once
    pkgs.append(Pkg("common", "2.0", architecture="all"))
    return fixture_archive(pkgs)


def _in_workers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Scan every index set in workers; the indices they read are listed here."""
    monkeypatch.setattr(scanpool, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scanpool, "cores", lambda: 2)
    started: list[str] = []
    real_submit = scanpool.ScanPool.submit

    def submit(self: scanpool.ScanPool, job: scanpool.IndexJob) -> object:
        started.append(job.what)
        return real_submit(self, job)

    monkeypatch.setattr(scanpool.ScanPool, "submit", submit)
    return started


def test_several_processes_give_the_one_process_result(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arc = _archive(fixture_archive)
    mirror.add(arc, archs=ARCHS)
    one = mirror.sync()

    started = _in_workers(monkeypatch)
    other = Mirror(tmp_path / "other", run_cli, {"REPOVERSION_NOW": NOW})
    other.home.mkdir()
    assert other.cli("init").code == 0
    other.add(arc, archs=ARCHS)
    many = other.sync()

    assert len(started) == 2  # three indices: one read here, two by workers
    assert many["state"] == one["state"]
    assert many["changes"] == one["changes"]
    assert _packages(other, "1.0.0") == _packages(mirror, "1.0.0")
    names = [(p["name"], p["architecture"]) for p in _packages(other, "1.0.0")]
    assert names.count(("common", "all")) == 1
    assert ("p3", "source") in names and ("p3", "arm64") in names

    # a re-sync after a change reads against the base version, in workers too
    arc.add(Pkg("p0", "1.1", architecture="arm64"))
    arc.add(SrcPkg("p0", "1.1-1"))
    arc.publish()
    assert other.sync()["repoversion"] == mirror.sync()["repoversion"] == "1.1.0"
    assert _packages(other, "1.1.0") == _packages(mirror, "1.1.0")


def test_a_bad_index_read_by_a_worker_is_refused(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _in_workers(monkeypatch)
    arc = _archive(fixture_archive)
    # Sources is the largest index here, read in this process; arm64's goes to a worker
    arc.add(Pkg("broken", "1.0", "arm64", index_overrides={"Filename": "../../etc/passwd"}))
    arc.publish()
    mirror.add(arc, archs=ARCHS)
    message = mirror.sync_fails()
    assert "main/binary-arm64/Packages" in message and "unsafe Filename" in message, message
    assert any("main/binary-arm64/Packages" in what for what in started), started
    assert mirror.versions() == []
