"""init, archive, token, versions: what a user types, and one clear sentence when it is wrong."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def one_sentence(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr


def test_init_creates_everything_and_is_idempotent(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    for name in (
        "repoversion.toml",
        "repoversion.db",
        "keys/signing-key.asc",
        "keys/repoversion.asc",
        "keys/repoversion.gpg",
    ):
        assert (home / name).exists(), name
    assert (home / "keys/signing-key.asc").stat().st_mode & 0o077 == 0
    key_before = (home / "keys/signing-key.asc").read_bytes()
    again = run_cli("--home", str(home), "init")
    assert again.code == 0, again.stderr
    assert (home / "keys/signing-key.asc").read_bytes() == key_before


def test_versions_on_a_new_home_is_an_empty_json_list(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--home", str(home), "versions", "--json")
    assert result.code == 0
    assert json.loads(result.stdout) == []


def test_commands_on_a_missing_home_fail_cleanly_and_create_nothing(
    tmp_path: Path, run_cli
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "nothing-here"
    result = run_cli("--home", str(target), "versions", "--json")
    assert result.code != 0 and result.stdout == ""
    one_sentence(result.stderr)
    assert "repoversion init" in result.stderr
    assert not target.exists()


def test_init_refuses_bad_input_and_writes_nothing(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = run_cli("--home", str(a_file), "init")
    assert result.code != 0
    one_sentence(result.stderr)
    assert "not a directory" in result.stderr

    target = tmp_path / "h"
    result = run_cli("--home", str(target), "init", env={"REPOVERSION_WORKERS": "lots"})
    assert result.code != 0
    one_sentence(result.stderr)
    assert "REPOVERSION_WORKERS" in result.stderr
    assert not target.exists()


def test_signing_key_signs_what_gpgv_and_the_binary_keyring_accept(
    home: Path, tmp_path: Path
) -> None:
    from repoversion.archive.signing import Signer

    signer = Signer(home / "keys/signing-key.asc")
    signed = signer.clearsign(b"Origin: test\n")
    (tmp_path / "InRelease").write_bytes(signed)
    proc = subprocess.run(
        ["gpgv", "--keyring", str(home / "keys/repoversion.gpg"), str(tmp_path / "InRelease")],
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "Release").write_bytes(b"Origin: test\n")
    (tmp_path / "Release.gpg").write_bytes(signer.detach_sign(b"Origin: test\n"))
    proc = subprocess.run(
        [
            "gpgv",
            "--keyring",
            str(home / "keys/repoversion.gpg"),
            str(tmp_path / "Release.gpg"),
            str(tmp_path / "Release"),
        ],
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (home / "keys/repoversion.asc").read_bytes().startswith(b"-----BEGIN PGP PUBLIC")


def _add(run_cli, home: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli("--home", str(home), "archive", "add", *extra)


GOOD = [
    "debian",
    "http://deb.example.invalid/debian",
    "--suite",
    "bookworm",
    "--suite",
    "bookworm-updates",
    "--component",
    "main",
    "--arch",
    "amd64",
    "--keyring",
    str(DEBIAN_KEYRING),
]


def test_archive_add_list_show_remove(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    assert _add(run_cli, home, *GOOD).code == 0
    listed = run_cli("--home", str(home), "archive", "list", "--json")
    assert listed.code == 0
    assert json.loads(listed.stdout) == [
        {
            "name": "debian",
            "url": "http://deb.example.invalid/debian",
            "suites": ["bookworm", "bookworm-updates"],
            "components": ["main"],
            "architectures": ["amd64"],
            "policy": "on_demand",
            "mode": "signed",
            "required": True,
        }
    ]
    shown = json.loads(run_cli("--home", str(home), "archive", "show", "debian", "--json").stdout)
    assert len(shown["keyring_fingerprints"]) >= 2
    # the keyring lives in the database, so every node sharing it has it
    con = sqlite3.connect(home / "repoversion.db")
    assert len(con.execute("SELECT keyring FROM archive").fetchone()[0]) > 1000
    con.close()
    dup = _add(run_cli, home, *GOOD)
    assert dup.code != 0 and "already exists" in dup.stderr
    assert run_cli("--home", str(home), "archive", "remove", "debian").code == 0
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []
    missing = run_cli("--home", str(home), "archive", "remove", "debian")
    assert missing.code != 0
    one_sentence(missing.stderr)


def test_archive_add_options(home: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    armored = tmp_path / "key.asc"
    armored.write_bytes(
        subprocess.run(
            ["gpg", "--enarmor"], input=DEBIAN_KEYRING.read_bytes(), capture_output=True
        ).stdout
    )
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    result = _add(
        run_cli,
        home,
        "sec",
        "https://x.example.invalid/debian-security/",
        "--suite",
        "bookworm-security",
        "--component",
        "main",
        "--arch",
        "amd64",
        "--arch",
        "source",
        "--keyring",
        str(DEBIAN_KEYRING),
        "--policy",
        "immediate",
        "--mode",
        "verbatim",
        "--optional",
        "--ca",
        str(ca),
    )
    assert result.code == 0, result.stderr
    [arc] = json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout)
    assert arc["url"] == "https://x.example.invalid/debian-security"
    assert (arc["policy"], arc["mode"], arc["required"]) == ("immediate", "verbatim", False)
    assert arc["architectures"] == ["amd64", "source"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({0: "Debian"}, "Archive name 'Debian'"),
        ({0: "../x"}, "Archive name"),
        ({1: "ftp://x/debian"}, "must be an http:// or https:// URL"),
        ({3: "../../etc"}, "Suite '../../etc' is not valid"),
        ({9: "AMD 64"}, "Architecture 'AMD 64' is not valid"),
        ({11: "/nonexistent/keyring.gpg"}, "Cannot read keyring"),
        ({11: "/etc/hostname"}, "holds no OpenPGP public key"),
    ],
)
def test_archive_add_rejects_bad_input(home: Path, run_cli, change, words) -> None:  # type: ignore[no-untyped-def]
    args = list(GOOD)
    for index, value in change.items():
        args[index] = value
    result = _add(run_cli, home, *args)
    assert result.code != 0
    one_sentence(result.stderr)
    assert words in result.stderr
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []


def test_archive_add_rejects_bad_choices(home: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert _add(run_cli, home, *GOOD, "--policy", "sometimes").code == 2
    assert _add(run_cli, home, *GOOD, "--mode", "raw").code == 2
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a cert")
    result = _add(run_cli, home, *GOOD, "--ca", str(bad_ca))
    assert result.code == 1 and "holds no PEM certificate" in result.stderr
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []


def test_tokens_are_shown_once_and_stored_hashed(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    made = run_cli("--home", str(home), "token", "create", "ci", "--json")
    assert made.code == 0
    data = json.loads(made.stdout)
    assert data["name"] == "ci" and data["scope"] == "write" and len(data["token"]) > 30
    admin = json.loads(
        run_cli("--home", str(home), "token", "create", "ops", "--scope", "admin", "--json").stdout
    )
    assert admin["scope"] == "admin"
    con = sqlite3.connect(home / "repoversion.db")
    stored = [row[0] for row in con.execute("SELECT token_hash FROM token")]
    con.close()
    assert data["token"] not in stored and len(stored) == 2
    listed = json.loads(run_cli("--home", str(home), "token", "list", "--json").stdout)
    assert [(t["name"], t["scope"]) for t in listed] == [("ci", "write"), ("ops", "admin")]
    assert data["token"] not in json.dumps(listed)
    assert run_cli("--home", str(home), "token", "create", "ci").code == 1
    assert run_cli("--home", str(home), "token", "revoke", "ci").code == 0
    assert [
        t["name"]
        for t in json.loads(run_cli("--home", str(home), "token", "list", "--json").stdout)
    ] == ["ops"]
    bad = run_cli("--home", str(home), "token", "revoke", "ci")
    assert bad.code == 1 and "No token named 'ci'" in bad.stderr


def test_token_authorisation(home: Path) -> None:
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.db.session import transaction
    from repoversion.errors import Forbidden, Unauthorized
    from repoversion.tokens import authorize, create_token

    ctx = Context(load_settings(home, environ={}))
    now = ctx.settings.clock()
    with transaction(ctx.sessions) as s:
        write = create_token(s, "w", "write", now).token
        admin = create_token(s, "a", "admin", now).token
    with transaction(ctx.sessions) as s:
        assert authorize(s, f"Bearer {write}", "write", now).name == "w"
        assert authorize(s, f"Bearer {admin}", "admin", now).name == "a"
        with pytest.raises(Forbidden):
            authorize(s, f"Bearer {write}", "admin", now)
        with pytest.raises(Unauthorized):
            authorize(s, "Bearer nope", "write", now)
        with pytest.raises(Unauthorized):
            authorize(s, None, "write", now)
    ctx.close()


def test_real_console_script_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "repoversion"
    proc = subprocess.run(
        [str(exe), "--home", str(tmp_path / "h"), "archive", "list"], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    one_sentence(proc.stderr)


@pytest.mark.parametrize(
    ("url", "machine"),
    [
        ("https://alice:s3cret@deb.example.invalid/debian", "deb.example.invalid/debian"),
        ("http://alice@deb.example.invalid:8080/debian/", "http://deb.example.invalid:8080/debian"),
        ("https://alice:pa/s3cret@deb.example.invalid/debian", "deb.example.invalid/debian"),
    ],
)
def test_archive_add_refuses_credentials_in_the_url(home: Path, run_cli, url, machine) -> None:  # type: ignore[no-untyped-def]
    args = list(GOOD)
    args[1] = url
    result = _add(run_cli, home, *args)
    assert result.code == 1
    one_sentence(result.stderr)
    assert f"{home / 'auth.conf'} as `machine {machine} login USER password PASS`" in result.stderr
    assert "s3cret" not in result.stderr and "alice" not in result.stderr
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []


def test_archive_add_requires_the_archive_s_own_keyring(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = _add(run_cli, home, *GOOD[:-2])
    assert result.code == 2
    assert "Missing option '--keyring'" in result.stderr
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []


def test_the_domain_refuses_an_archive_without_keyring_or_with_credentials(home: Path) -> None:
    """The rules live below the CLI, so the HTTP API gets them too."""
    from repoversion.config import load_settings
    from repoversion.context import Context
    from repoversion.db.session import transaction
    from repoversion.errors import InvalidInput
    from repoversion.upstream.archives import ArchiveSpec, add_archive, list_archives

    ctx = Context(load_settings(home, environ={}))
    spec = ArchiveSpec(
        "debian", "http://deb.example.invalid/debian", ["bookworm"], ["main"], ["amd64"]
    )
    with transaction(ctx.sessions) as s:
        with pytest.raises(InvalidInput, match="needs its own keyring"):
            add_archive(s, spec, ctx.settings.clock())
        spec.keyring_path = DEBIAN_KEYRING
        spec.url = "http://user:s3cret@deb.example.invalid/debian"
        with pytest.raises(InvalidInput) as refused:
            add_archive(s, spec, ctx.settings.clock())
        assert "put them in <home>/auth.conf" in refused.value.message
        assert "s3cret" not in refused.value.message
        assert list_archives(s) == []
    ctx.close()
