"""The whole sync path (COPY, driver reads, advisory lock) on PostgreSQL, through alembic."""

from __future__ import annotations

from tests.fixtures.archives import Pkg, SrcPkg


def test_sync_numbering_and_diff_on_postgresql(tmp_path, run_cli, pg_url, fixture_archive) -> None:  # type: ignore[no-untyped-def]
    from tests.mirror.conftest import NOW, Mirror

    env = {"REPOVERSION_NOW": NOW, "REPOVERSION_DATABASE_URL": pg_url}
    home = tmp_path / "home"
    assert run_cli("--home", str(home), "init", env=env).code == 0
    assert not (home / "repoversion.db").exists()
    mirror = Mirror(home, run_cli, env)
    arc = fixture_archive([Pkg("hello", "1.0"), Pkg("world", "1.0"), SrcPkg("hello", "1.0")])
    mirror.add(arc, archs=("amd64", "source"))
    assert mirror.sync()["repoversion"] == "1.0.0"
    arc.add(Pkg("hello", "1.1"))
    arc.add(Pkg("extra", "1.0"))
    arc.publish()
    out = mirror.sync()
    assert (out["repoversion"], out["changes"]["added"], out["changes"]["upgraded"]) == (
        "1.1.0",
        1,
        1,
    )
    assert mirror.sync()["new"] is False
    arc.remove("world")
    arc.publish()
    assert mirror.sync()["repoversion"] == "2.0.0"
    diff = mirror.diff("1.0.0", "2.0.0")
    assert [p["name"] for p in diff["removed"]] == ["world"]
    assert [p["name"] for p in diff["added"]] == ["extra"]
    assert mirror.versions() == ["2.0.0", "1.1.0", "1.0.0"]
    # the stanza sets the later syncs relied on match the rows, on PostgreSQL too
    from tests.mirror.test_stanzasets import sets_and_rows

    for version, scopes in sets_and_rows(mirror).items():
        for scope, (recorded, rows) in scopes.items():
            assert recorded == rows, (version, scope)
