"""Stanza sets: each version records the stanza digests of each scope's open rows, and a
re-sync that uses them reaches exactly what reading the rows back would."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import DerivedBlobs, Package, Repoversion, Suite
from repoversion.db.session import transaction
from repoversion.versions import stanzasets
from repoversion.versions.base import ScopeRows
from tests.fixtures.archives import Pkg, SrcPkg
from tests.mirror.conftest import Mirror


def sets_and_rows(mirror: Any) -> dict[str, dict[tuple[str, str, str], tuple[set[int], set[int]]]]:
    """For each version and scope: (its recorded stanza set, digests of its open rows)."""
    ctx = Context(load_settings(mirror.home, environ=mirror.env))
    out: dict[str, dict[tuple[str, str, str], tuple[set[int], set[int]]]] = {}
    try:
        with transaction(ctx.sessions) as s:
            suites = {sid: name for sid, name in s.execute(select(Suite.id, Suite.name))}
            for vid, version in s.execute(select(Repoversion.id, Repoversion.version)):
                rows: dict[tuple[int, str, str], set[int]] = {}
                for sid, comp, kind, digest in s.execute(
                    select(Package.suite_id, Package.component, Package.kind, Package.stanza).where(
                        Package.added <= vid,
                        (Package.removed.is_(None)) | (Package.removed > vid),
                    )
                ):
                    assert digest is not None  # every row this code writes has one
                    rows.setdefault((sid, comp, kind), set()).add(digest)
                out[version] = {
                    (suites[sid], comp, kind): (
                        stanzasets.load(s, ctx.store, vid, sid, (comp, kind)) or set(),
                        digests,
                    )
                    for (sid, comp, kind), digests in rows.items()
                }
    finally:
        ctx.close()
    return out


def _forget_sets(mirror: Any) -> None:
    ctx = Context(load_settings(mirror.home, environ=mirror.env))
    try:
        with transaction(ctx.sessions) as s:
            s.execute(delete(DerivedBlobs).where(DerivedBlobs.key.startswith(stanzasets.PREFIX)))
    finally:
        ctx.close()


def _evolve(arc: Any, step: int) -> None:
    if step == 1:
        arc.add(Pkg("hello", "1.1"), "bookworm")
        arc.add(Pkg("new", "1.0"), "bookworm")
        arc.add(SrcPkg("hello", "1.1"), "bookworm")
    elif step == 2:
        arc.remove("world", "bookworm")
        arc.add(Pkg("other", "2.0"), "bookworm-updates")
    arc.publish()


def test_every_version_records_the_digests_of_its_open_rows(mirror, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive(
        suites={
            "bookworm": [Pkg("hello", "1.0"), Pkg("world", "1.0"), SrcPkg("hello", "1.0")],
            "bookworm-updates": [Pkg("other", "1.0"), SrcPkg("other", "1.0")],
        }
    )
    mirror.add(arc, archs=("amd64", "source"))
    mirror.sync()
    for step in (1, 2):
        _evolve(arc, step)
        assert mirror.sync()["new"] is True
    sets = sets_and_rows(mirror)
    assert sorted(sets) == ["1.0.0", "1.1.0", "2.0.0"]
    for version, scopes in sets.items():
        assert ("bookworm", "main", "dsc") in scopes, version
        for scope, (recorded, rows) in scopes.items():
            assert rows and recorded == rows, (version, scope)
    # bookworm-updates did not change in 1.1.0: its set was carried, not rewritten
    ctx = Context(load_settings(mirror.home, environ=mirror.env))
    try:
        with transaction(ctx.sessions) as s:
            blobs = {
                key: tuple(value[stanzasets.FORMAT])
                for key, value in s.execute(select(DerivedBlobs.key, DerivedBlobs.blobs))
                if key.startswith(stanzasets.PREFIX)
            }
            sid = s.scalar(select(Suite.id).where(Suite.name == "bookworm-updates"))
            vids = dict(s.execute(select(Repoversion.version, Repoversion.id)).all())
    finally:
        ctx.close()
    assert sid is not None
    carried = [blobs[stanzasets.key(vids[v], sid, ("main", "deb"))] for v in ("1.0.0", "1.1.0")]
    assert carried[0] == carried[1]


def test_a_version_without_sets_reads_the_rows_and_gets_the_same_result(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, tmp_path, run_cli, monkeypatch
) -> None:
    """Two homes follow the same upstream; one forgets its stanza sets before each sync.
    Both must commit the same versions with the same packages and change counts."""
    arc = fixture_archive(
        suites={
            "bookworm": [Pkg("hello", "1.0"), Pkg("world", "1.0"), SrcPkg("hello", "1.0")],
            "bookworm-updates": [Pkg("other", "1.0"), SrcPkg("other", "1.0")],
        }
    )
    path = tmp_path / "other-home"
    assert run_cli("--home", str(path), "init").code == 0
    other = Mirror(path, run_cli, mirror.env)
    for m in (mirror, other):
        m.add(arc, archs=("amd64", "source"))
        m.sync()
    reads: list[str] = []
    original = ScopeRows.digests

    def counted(self, archive, suite, scope):  # type: ignore[no-untyped-def]
        reads.append(suite)
        return original(self, archive, suite, scope)

    monkeypatch.setattr(ScopeRows, "digests", counted)
    for step in (1, 2):
        _evolve(arc, step)
        _forget_sets(other)
        reads.clear()
        a = mirror.sync()
        assert reads == []  # every scope it read had a stanza set
        b = other.sync()
        assert reads  # the other home read the rows back
        assert (a["repoversion"], a["changes"], a["state"]) == (
            b["repoversion"],
            b["changes"],
            b["state"],
        )
        assert mirror.diff("1.0.0", "latest") == other.diff("1.0.0", "latest")
    # the home without sets got them back for the scopes its last sync read
    last = list(sets_and_rows(other).values())[-1]
    for scope in (("bookworm", "main", "deb"), ("bookworm-updates", "main", "deb")):
        recorded, rows = last[scope]
        assert recorded == rows, scope


def test_sets_in_an_s3_store(mirror, fixture_archive, s3_endpoint, s3_bucket, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With blobs in S3 (moto on loopback), index files are written from the background
    thread and the next sync reads its stanza set back from the bucket."""
    mirror.env.update(
        {
            "REPOVERSION_STORAGE_URL": f"s3://{s3_bucket}/rv",
            "REPOVERSION_S3_ENDPOINT_URL": s3_endpoint,
        }
    )
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0")])
    mirror.add(arc)
    mirror.sync()

    def no_row_reads(self, archive, suite, scope):  # type: ignore[no-untyped-def]
        raise AssertionError("the stanza set should have been read from the bucket")

    monkeypatch.setattr(ScopeRows, "digests", no_row_reads)
    arc.add(Pkg("hello", "1.1"))
    arc.remove("world")
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["changes"]["upgraded"], out["changes"]["removed"]) == (
        "2.0.0",
        1,
        1,
    )
    for version, scopes in sets_and_rows(mirror).items():
        for scope, (recorded, rows) in scopes.items():
            assert recorded == rows, (version, scope)
