"""The read commands against a real ``repoversion serve`` (``--server``), compared with the
same commands on the home, and what a remote read and ``--help`` import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from repoversion.cli import LAZY, SUMMARIES, cli
from repoversion.cli import remote as remote_module
from tests.fixtures.archives import Pkg
from tests.mirror import conftest as mirror_conftest
from tests.mirror.conftest import Mirror
from tests.test_packages_history import one_sentence, three_versions
from tests.web import running
from tests.web.running import Served, free_port, serving

mirror_on_db = running.mirror_on_db  # the fixture: every test using it runs on both databases
mirror = mirror_conftest.mirror  # the fixture of tests/mirror (SQLite)

#: every read command, with arguments that answer something, nothing, or an error
READS = [
    ("versions",),
    ("show", "1.1.0"),
    ("show", "stable"),
    ("diff", "1.0.0", "1.2.0"),
    ("diff", "latest", "1.0.0"),
    ("diff", "1.1.0", "1.1.0"),
    ("packages", "1.2.0"),
    ("packages", "latest", "--name", "hello", "--arch", "arm64"),
    ("packages", "1.0.0", "--archive", "debian", "--suite", "nosuch"),
    ("packages", "1.0.0", "--name", "libfoo+x"),
    ("history", "hello"),
    ("history", "hello", "--version", "1.1"),
    ("history", "nothing"),
    ("tags",),
    ("tags", "--history", "stable"),
    ("show", "9.9.9"),
    ("show", "not a ref"),
    ("diff", "1.0.0", "nosuch"),
    ("packages", "20000101T000000Z"),
    ("tags", "--history", "nosuch"),
    # what cannot be one segment of an API path
    ("show", "a/b"),
    ("show", ""),
    ("diff", "1.0.0", "x/y"),
    ("packages", "../1.0.0"),
    ("history", "a/b"),
    ("tags", "--history", "a/b"),
]
#: what a remote read must not import
HEAVY = ("sqlalchemy", "flask", "werkzeug", "boto3", "botocore", "rich", "requests", "alembic")


@pytest.fixture
def served(mirror_on_db: Mirror, fixture_archive: Any) -> Iterator[tuple[Mirror, Served]]:
    """Three versions and a tag moved once, served by ``repoversion serve`` (SQLite and
    PostgreSQL)."""
    yield from _three_served(mirror_on_db, fixture_archive)


@pytest.fixture
def served_sqlite(mirror: Mirror, fixture_archive: Any) -> Iterator[tuple[Mirror, Served]]:
    """The same on SQLite only."""
    yield from _three_served(mirror, fixture_archive)


def _three_served(m: Mirror, fixture_archive: Any) -> Iterator[tuple[Mirror, Served]]:
    three_versions(m, fixture_archive)
    for ref in ("1.0.0", "1.1.0"):
        assert m.cli("tag", "stable", ref).code == 0
    with serving(m.home) as server:
        yield m, server


def remote(m: Mirror, url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """``args`` with ``--server url``, from a home that does not exist."""
    return m.run_cli(
        "--home", str(m.home.parent / "no-home"), *args, "--server", url, env=env or {}
    )


def test_every_read_prints_the_same_remotely(served: tuple[Mirror, Served]) -> None:
    m, server = served
    for args in READS:
        for fmt in ((), ("--json",)):
            local = m.cli(*args, *fmt)
            far = remote(m, server.url, *args, *fmt)
            assert (far.code, far.stdout, far.stderr) == (local.code, local.stdout, local.stderr), (
                args,
                fmt,
            )
    assert not (m.home.parent / "no-home").exists()
    # the comparison compares something: answers, empty answers and errors
    assert len(json.loads(m.cli("packages", "1.2.0", "--json").stdout)) == 4
    assert m.cli("history", "nothing").stderr.strip()
    assert one_sentence(m.cli("show", "9.9.9").stderr) == "error: No repoversion 9.9.9."


def test_long_listings_are_read_page_by_page(
    served_sqlite: tuple[Mirror, Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    m, server = served_sqlite
    monkeypatch.setattr(remote_module, "PAGE", 1)
    asked: list[tuple[str, Any]] = []
    get = remote_module.RemoteReads._get

    def counted(self: Any, path: str, params: Any = None) -> Any:
        asked.append((path, dict(params or {})))
        return get(self, path, params)

    monkeypatch.setattr(remote_module.RemoteReads, "_get", counted)
    for args in (("versions", "--json"), ("packages", "1.2.0", "--json"), ("packages", "1.1.0")):
        local = m.cli(*args)
        assert remote(m, server.url, *args).stdout == local.stdout
    versions = [params for path, params in asked if path == "/versions"]
    assert len(versions) == 3 and versions[0]["cursor"] is None
    assert all(p["limit"] == "1" and p["cursor"] for p in versions[1:])
    assert len([path for path, _ in asked if path == "/versions/1.2.0/packages"]) == 4


def test_private_reads_need_a_token(mirror: Mirror, fixture_archive: Any) -> None:
    m = mirror
    m.add(fixture_archive([Pkg("hello", "1.0")]))
    m.sync()
    created = m.cli("token", "create", "ci", "--json")
    token = json.loads(created.stdout)["token"]
    with serving(m.home, REPOVERSION_PRIVATE_READS="true") as server:
        refused = remote(m, server.url, "versions")
        assert refused.code == 1 and refused.stdout == ""
        assert one_sentence(refused.stderr).startswith("error: ")
        wrong = remote(m, server.url, "versions", "--token", "rv_wrong")
        assert wrong.code == 1 and one_sentence(wrong.stderr).startswith("error: ")
        local = m.cli("versions", "--json")
        by_option = remote(m, server.url, "versions", "--json", "--token", token)
        assert (by_option.code, by_option.stdout) == (0, local.stdout)
        by_env = m.run_cli(
            "versions",
            "--json",
            env={"REPOVERSION_SERVER": server.url, "REPOVERSION_TOKEN": token},
        )
        assert (by_env.code, by_env.stdout) == (0, local.stdout)


def test_a_server_out_of_reach_or_not_repoversion_is_one_sentence(
    mirror: Mirror, archive_server: Any, tmp_path: Path
) -> None:
    port = free_port()
    gone = remote(mirror, f"http://127.0.0.1:{port}", "versions")
    assert gone.code == 1 and gone.stdout == ""
    assert one_sentence(gone.stderr) == (
        f"error: Cannot reach the repoversion server at http://127.0.0.1:{port}: "
        "Connection refused."
    )
    (tmp_path / "site").mkdir()
    archive_server.mount("site", tmp_path / "site")
    other = remote(mirror, f"{archive_server.base_url}/site", "show", "1.0.0")
    assert other.code == 1
    assert "is it a repoversion server?" in one_sentence(other.stderr)
    bad = remote(mirror, "rv.example.org", "tags")
    assert bad.code == 1
    assert one_sentence(bad.stderr) == (
        "error: --server must be an http:// or https:// URL, got 'rv.example.org'."
    )


# A fresh interpreter: run the commands, then list what they imported of HEAVY.
IMPORTS = """
import json, sys
from repoversion.cli import main
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit as exc:
        assert not exc.code, (argv, exc.code)
heavy = set(json.loads(sys.argv[2]))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def test_help_and_a_remote_read_import_no_database_layer(mirror: Mirror) -> None:
    with serving(mirror.home) as server:
        argvs = [["--help"], ["versions", "--server", server.url], ["tags", "--json"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
        env["REPOVERSION_SERVER"] = server.url
        out = subprocess.run(
            [sys.executable, "-c", IMPORTS, json.dumps(argvs), json.dumps(HEAVY)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    assert "Usage: " in out.stdout and '"latest"' not in out.stdout
    assert json.loads(out.stdout.splitlines()[-1]) == []
    # the check sees imports at all: a local read does pull the database layer in
    local = subprocess.run(
        [sys.executable, "-c", IMPORTS, json.dumps([["versions"]]), json.dumps(HEAVY)],
        env={**env, "REPOVERSION_HOME": str(mirror.home), "REPOVERSION_SERVER": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert local.returncode == 0, local.stderr
    assert "sqlalchemy" in json.loads(local.stdout.splitlines()[-1])


def test_help_lists_every_command_with_its_own_summary() -> None:
    missing = sorted(set(LAZY) - set(SUMMARIES))
    assert not missing, f"--help would import {missing}: add them to cli.SUMMARIES"
    assert set(SUMMARIES) <= set(LAZY)
    for name in LAZY:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        stand_in = click.Command(name, help=SUMMARIES[name])
        assert stand_in.get_short_help_str(200) == command.get_short_help_str(200), name
