"""``packages``, ``history``, pages of versions and packages, ``diff`` summaries and
``archive edit`` (SPEC section 4): the CLI on a real mirror, the actions on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from repoversion import actions
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import Repoversion
from repoversion.errors import InvalidInput, NotFound
from tests.fixtures.archives import Pkg
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import Mirror
from tests.web import running

mirror = mirror_conftest.mirror  # the fixture of tests/mirror, for the one-database tests
mirror_on_db = running.mirror_on_db  # the same on SQLite and on PostgreSQL

PACKAGE_FIELDS = {
    "name",
    "version",
    "architecture",
    "archive",
    "suite",
    "component",
    "filename",
    "sha256",
    "size",
}


def one_sentence(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def three_versions(mirror: Mirror, fixture_archive: Any) -> Mirror:
    """1.0.0: hello 1.0 (amd64, arm64), libfoo 2.0; 1.1.0: hello 1.1 on amd64;
    1.2.0: tool 0.1 added. hello 1.0 on arm64 is in all three."""
    arc = fixture_archive(
        [Pkg("hello", "1.0"), Pkg("hello", "1.0", architecture="arm64"), Pkg("libfoo", "2.0")]
    )
    mirror.add(arc, archs=("amd64", "arm64"))
    assert mirror.sync()["repoversion"] == "1.0.0"
    arc.add(Pkg("hello", "1.1"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.1.0"
    arc.add(Pkg("tool", "0.1"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.2.0"
    return mirror


@pytest.fixture
def mirrored(mirror_on_db: Mirror, fixture_archive: Any) -> Mirror:
    """Three versions, on SQLite and on PostgreSQL."""
    return three_versions(mirror_on_db, fixture_archive)


@pytest.fixture
def ctx(mirrored: Mirror) -> Iterator[Context]:
    context = Context(load_settings(mirrored.home))
    yield context
    context.close()


def cli_json(mirror: Mirror, *args: str) -> Any:
    result = mirror.cli(*args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def drop(ctx: Context, version: str) -> None:
    """Mark ``version`` dropped, as gc will (no command drops one yet)."""
    with ctx.engine.begin() as conn:
        conn.execute(
            update(Repoversion)
            .where(Repoversion.version == version)
            .values(dropped=datetime(2025, 6, 2, tzinfo=UTC))
        )


# --------------------------------------------------------------------------- packages


def test_packages_lists_a_version_with_filters(mirrored: Mirror) -> None:
    m = mirrored
    every = cli_json(m, "packages", "1.1.0")
    assert all(set(p) == PACKAGE_FIELDS for p in every)
    assert sorted((p["name"], p["version"], p["architecture"]) for p in every) == [
        ("hello", "1.0", "arm64"),
        ("hello", "1.1", "amd64"),
        ("libfoo", "2.0", "amd64"),
    ]
    hello = next(p for p in every if p["version"] == "1.1")
    assert hello["filename"] == "pool/main/h/hello/hello_1.1_amd64.deb"
    assert (hello["archive"], hello["suite"], hello["component"]) == ("debian", "bookworm", "main")
    assert len(hello["sha256"]) == 64 and hello["size"] > 0

    assert [p["version"] for p in cli_json(m, "packages", "1.0.0", "--name", "hello")] == [
        "1.0",
        "1.0",
    ]
    arm = cli_json(m, "packages", "latest", "--arch", "arm64", "--archive", "debian")
    assert [(p["name"], p["architecture"]) for p in arm] == [("hello", "arm64")]
    assert cli_json(m, "packages", "1.2.0", "--suite", "trixie") == []
    assert "tool" in {p["name"] for p in cli_json(m, "packages", "1.2.0", "--suite", "bookworm")}

    table = m.cli("packages", "1.1.0", "--name", "hello")
    assert table.code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "ARCHITECTURE", "ARCHIVE", "SUITE", "COMPONENT"]
    assert sorted(line.split()[:3] for line in lines[1:]) == [
        ["hello", "1.0", "arm64"],
        ["hello", "1.1", "amd64"],
    ]
    none = m.cli("packages", "1.1.0", "--name", "nothing")
    assert none.code == 0 and none.stdout == ""
    assert "No package in 1.1.0 matches" in one_sentence(none.stderr)

    unknown = m.cli("packages", "9.9.9")
    assert unknown.code == 1 and unknown.stdout == ""
    assert one_sentence(unknown.stderr) == "error: No repoversion 9.9.9."


def test_pages_of_packages_and_versions(ctx: Context) -> None:
    whole = actions.packages(ctx, "1.2.0")
    assert whole["next"] is None and len(whole["items"]) == 4
    walked: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = actions.packages(ctx, "1.2.0", limit=3, cursor=cursor)
        walked += page["items"]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and len(page["items"]) == 3
    assert pages == 2 and walked == whole["items"]
    assert actions.packages(ctx, "1.2.0", name="hello", limit=5)["next"] is None
    # a filter no stored value can match answers nothing, not a database error
    assert actions.packages(ctx, "1.2.0", name="he\x00llo")["items"] == []
    assert actions.packages(ctx, "1.2.0", arch="\udcff")["items"] == []

    first = actions.list_versions_page(ctx, 2, None)
    assert [v["repoversion"] for v in first["items"]] == ["1.2.0", "1.1.0"]
    second = actions.list_versions_page(ctx, 2, first["next"])
    assert [v["repoversion"] for v in second["items"]] == ["1.0.0"]
    assert second["next"] is None
    assert first["items"] == actions.list_versions(ctx)[:2]
    # one listing's cursor is not another's
    with pytest.raises(InvalidInput, match="is not one this listing gave"):
        actions.packages(ctx, "1.2.0", limit=1, cursor=first["next"])
    with pytest.raises(InvalidInput, match="is not one this listing gave"):
        actions.list_versions_page(ctx, 1, actions.packages(ctx, "1.2.0", limit=1)["next"])

    drop(ctx, "1.1.0")
    assert [v["repoversion"] for v in actions.list_versions_page(ctx, 5, None)["items"]] == [
        "1.2.0",
        "1.0.0",
    ]


def test_bad_cursors_and_limits_are_refused(home: Path) -> None:
    ctx = Context(load_settings(home))
    try:
        bad_cursors = ["", "garbage!", "x" * 200, "cDEyMzQ1Njc4OTAxMjM0NTY3ODkw", "\x00", "\udcff"]
        for cursor in bad_cursors:
            with pytest.raises(InvalidInput, match="is not one this listing gave"):
                actions.packages(ctx, "1.2.0", limit=1, cursor=cursor)
            with pytest.raises(InvalidInput, match="is not one this listing gave"):
                actions.list_versions_page(ctx, 1, cursor)
        for bad in (0, -1, actions.PAGE_MAX + 1):
            with pytest.raises(InvalidInput, match="limit"):
                actions.list_versions_page(ctx, bad, None)
            with pytest.raises(InvalidInput, match="limit"):
                actions.packages(ctx, "1.2.0", limit=bad)
        with pytest.raises(NotFound):
            actions.packages(ctx, "nosuchtag")
    finally:
        ctx.close()


def test_diff_summary_is_from_to_and_counts(mirror: Mirror, fixture_archive: Any) -> None:
    three_versions(mirror, fixture_archive)
    ctx = Context(load_settings(mirror.home))
    try:
        full = actions.diff(ctx, "1.0.0", "1.2.0")
        summary = actions.diff(ctx, "1.0.0", "1.2.0", summary=True)
    finally:
        ctx.close()
    assert summary == {"from": "1.0.0", "to": "1.2.0", "counts": full["counts"]}
    assert full["counts"] == {"added": 1, "removed": 0, "upgraded": 1, "downgraded": 0}


# --------------------------------------------------------------------------- history


def test_history_lists_each_version_with_the_repoversions_that_held_it(mirrored: Mirror) -> None:
    m = mirrored
    assert cli_json(m, "history", "hello") == [
        {
            "name": "hello",
            "version": "1.0",
            "architecture": "amd64",
            "archive": "debian",
            "suite": "bookworm",
            "repoversions": ["1.0.0"],
        },
        {
            "name": "hello",
            "version": "1.0",
            "architecture": "arm64",
            "archive": "debian",
            "suite": "bookworm",
            "repoversions": ["1.0.0", "1.1.0", "1.2.0"],
        },
        {
            "name": "hello",
            "version": "1.1",
            "architecture": "amd64",
            "archive": "debian",
            "suite": "bookworm",
            "repoversions": ["1.1.0", "1.2.0"],
        },
    ]
    only = cli_json(m, "history", "hello", "--version", "1.0", "--arch", "amd64")
    assert [(h["version"], h["architecture"], h["repoversions"]) for h in only] == [
        ("1.0", "amd64", ["1.0.0"])
    ]
    assert cli_json(m, "history", "tool") == [
        {
            "name": "tool",
            "version": "0.1",
            "architecture": "amd64",
            "archive": "debian",
            "suite": "bookworm",
            "repoversions": ["1.2.0"],
        }
    ]

    table = m.cli("history", "hello", "--arch", "arm64")
    assert table.code == 0
    assert table.stdout.splitlines()[0].split() == [
        "VERSION",
        "ARCHITECTURE",
        "ARCHIVE",
        "SUITE",
        "REPOVERSIONS",
    ]
    assert table.stdout.splitlines()[1].split() == [
        "1.0",
        "arm64",
        "debian",
        "bookworm",
        "1.0.0",
        "1.1.0",
        "1.2.0",
    ]
    none = m.cli("history", "hello", "--version", "9")
    assert none.code == 0 and none.stdout == ""
    assert one_sentence(none.stderr) == "No kept repoversion holds hello 9."
    assert cli_json(m, "history", "no\x00such") == []


def test_history_skips_dropped_versions_in_one_query(ctx: Context) -> None:
    actions.list_versions(ctx)  # the schema check runs once, before counting
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    held = actions.history(ctx, "hello")
    event.remove(ctx.engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert [h["repoversions"] for h in held] == [
        ["1.0.0"],
        ["1.0.0", "1.1.0", "1.2.0"],
        ["1.1.0", "1.2.0"],
    ]

    drop(ctx, "1.0.0")
    drop(ctx, "1.1.0")
    # hello 1.0 on amd64 was only in dropped versions: its line is gone; the other two
    # first appear in the same version, so they are in (archive, suite, arch) order
    assert [
        (h["version"], h["architecture"], h["repoversions"]) for h in actions.history(ctx, "hello")
    ] == [
        ("1.1", "amd64", ["1.2.0"]),
        ("1.0", "arm64", ["1.2.0"]),
    ]
    assert actions.history(ctx, "nothing") == []


# --------------------------------------------------------------------------- archive edit


@pytest.fixture
def synced(mirror: Mirror, fixture_archive: Any) -> tuple[Mirror, Any]:
    arc = fixture_archive([Pkg("hello", "1.0")], suites={"bookworm-updates": [Pkg("upd", "1")]})
    mirror.add(arc, suites=["bookworm"])
    assert mirror.sync()["repoversion"] == "1.0.0"
    return mirror, arc


@pytest.fixture
def added(mirror: Mirror, fixture_archive: Any) -> Mirror:
    mirror.add(fixture_archive([Pkg("hello", "1.0")]))
    return mirror


def archive_json(mirror: Mirror) -> dict[str, Any]:
    data: dict[str, Any] = cli_json(mirror, "archive", "show", "debian")
    return data


def test_a_new_mirror_url_serving_the_same_bytes_makes_no_new_version(
    synced: tuple[Mirror, Any], archive_server: Any
) -> None:
    m, arc = synced
    other = archive_server.mount("other-mirror", arc.root)
    archive_server.clear_log()
    result = m.cli("archive", "edit", "debian", "--url", other + "/")
    assert result.code == 0, result.stderr
    assert "next sync" in one_sentence(result.stderr)
    assert archive_json(m)["url"] == other
    again = m.sync()
    assert (again["new"], again["repoversion"]) == (False, "1.0.0")
    assert any(r.startswith("/other-mirror/dists/bookworm/") for r in archive_server.requests)
    assert not any(r.startswith(f"/{arc.name}/") for r in archive_server.requests)


def test_edit_replaces_suites_policy_and_required(synced: tuple[Mirror, Any]) -> None:
    m, _arc = synced
    before = archive_json(m)
    result = m.cli(
        "archive", "edit", "debian", "--suite", "bookworm", "--suite", "bookworm-updates",
        "--policy", "immediate", "--optional",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    after = archive_json(m)
    assert after["suites"] == ["bookworm", "bookworm-updates"]
    assert (after["policy"], after["required"]) == ("immediate", False)
    for same in ("url", "components", "architectures", "mode", "keyring_fingerprints"):
        assert after[same] == before[same], same
    out = m.sync()
    assert (out["repoversion"], out["bump"]) == ("2.0.0", "major")
    assert [p["name"] for p in cli_json(m, "packages", "2.0.0", "--suite", "bookworm-updates")] == [
        "upd"
    ]
    assert m.cli("archive", "edit", "debian", "--required").code == 0
    assert archive_json(m)["required"] is True


def test_edit_replaces_the_keyring(
    synced: tuple[Mirror, Any], make_gpg_key: Any, tmp_path: Path
) -> None:
    m, arc = synced
    other = make_gpg_key("other").write_keyring(tmp_path / "other.asc", armored=True)
    assert m.cli("archive", "edit", "debian", "--keyring", str(other)).code == 0
    assert archive_json(m)["keyring_fingerprints"] == make_gpg_key("other").fingerprints
    arc.add(Pkg("hello", "1.1"), suite="bookworm")
    arc.publish()
    assert "not signed by any key of the keyring" in m.sync_fails()
    assert m.cli("archive", "edit", "debian", "--keyring", str(arc.keyring_path)).code == 0
    assert m.sync()["repoversion"] == "1.1.0"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "Nothing to change"),
        (("--url", "https://me:pw@deb.example.org/debian"), "auth.conf"),
        (("--url", "ftp://deb.example.org/debian"), "http:// or https://"),
        (("--suite", "../etc"), "Suite '../etc' is not valid"),
        (("--arch", "AMD64"), "Architecture 'AMD64' is not valid"),
        (("--keyring", "/nonexistent/keys.gpg"), "Cannot read keyring"),
        (("--keyring", "NOT-A-KEY"), "holds no OpenPGP public key"),
    ],
)
def test_edit_refuses_bad_input_and_changes_nothing(
    added: Mirror, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    m = added
    if args[-1:] == ("NOT-A-KEY",):
        junk = tmp_path / "junk.gpg"
        junk.write_bytes(b"not a key at all\n")
        args = (*args[:-1], str(junk))
    before = archive_json(m)
    result = m.cli("archive", "edit", "debian", *args)
    assert result.code != 0
    line = one_sentence(result.stderr)
    assert words in line, line
    assert "pw" not in line
    assert archive_json(m) == before


def test_edit_of_an_unknown_archive_or_field(added: Mirror) -> None:
    m = added
    result = m.cli("archive", "edit", "nosuch", "--policy", "immediate")
    assert result.code == 1
    assert one_sentence(result.stderr) == "error: No archive named 'nosuch'."
    ctx = Context(load_settings(m.home))
    try:
        with pytest.raises(InvalidInput, match="'mode' cannot be edited"):
            actions.edit_archive(ctx, "debian", {"mode": "verbatim"})
        with pytest.raises(InvalidInput, match="Required must be true or false"):
            actions.edit_archive(ctx, "debian", {"required": "no"})
        with pytest.raises(InvalidInput, match="list of names"):
            actions.edit_archive(ctx, "debian", {"suites": "bookworm"})
        with pytest.raises(InvalidInput, match="keyring"):
            actions.edit_archive(ctx, "debian", {"keyring": b"\x99junk"})
        edited = actions.edit_archive(ctx, "debian", {"components": ["main", "contrib"]})
        assert edited["components"] == ["main", "contrib"]
    finally:
        ctx.close()
