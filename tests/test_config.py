"""Settings: defaults, the toml file, REPOVERSION_* overrides, one clear error per bad value."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from repoversion.config import load_settings, parse_instant
from repoversion.errors import ConfigError


def test_defaults_live_in_the_home(tmp_path: Path) -> None:
    s = load_settings(tmp_path, environ={})
    assert s.database_url == f"sqlite:///{tmp_path}/repoversion.db"
    assert s.storage_url == f"file://{tmp_path}/blobs"
    assert s.signing_key_path == tmp_path / "keys" / "signing-key.asc"
    assert s.public_url == "http://127.0.0.1:8080"
    assert s.now is None and s.clock().tzinfo is not None


def test_home_from_environment(tmp_path: Path) -> None:
    assert load_settings(environ={"REPOVERSION_HOME": str(tmp_path)}).home == tmp_path


def test_toml_then_environment(tmp_path: Path) -> None:
    (tmp_path / "repoversion.toml").write_text(
        'public_url = "https://apt.example.org"\nworkers = 4\nlanguages = ["en", "de"]\n'
    )
    s = load_settings(tmp_path, environ={"REPOVERSION_WORKERS": "7"})
    assert s.public_url == "https://apt.example.org"
    assert s.workers == 7
    assert s.languages == ("en", "de")


@pytest.mark.parametrize("text", ["2026-11-25T21:00:00Z", "20261125T210000Z"])
def test_settable_clock(tmp_path: Path, text: str) -> None:
    s = load_settings(tmp_path, environ={"REPOVERSION_NOW": text})
    assert s.clock() == datetime(2026, 11, 25, 21, 0, 0, tzinfo=UTC)
    assert parse_instant(text) == s.clock()


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [
        ("REPOVERSION_WORKERS", "many", "REPOVERSION_WORKERS must be an integer"),
        ("REPOVERSION_WORKERS", "0", "at least 1"),
        ("REPOVERSION_DATABASE_URL", "mysql://x", "REPOVERSION_DATABASE_URL must be"),
        ("REPOVERSION_STORAGE_URL", "ftp://x", "REPOVERSION_STORAGE_URL must be"),
        ("REPOVERSION_STORAGE_URL", "file://relative/path", "absolute file:///path"),
        ("REPOVERSION_PUBLIC_URL", "example.org", "REPOVERSION_PUBLIC_URL must be"),
        ("REPOVERSION_NOW", "yesterday", "REPOVERSION_NOW must be a UTC instant"),
        ("REPOVERSION_BIND", "8080", "HOST:PORT"),
        ("REPOVERSION_S3_PRESIGN", "maybe", "true or false"),
        ("REPOVERSION_LANGUAGES", "en,../x", "bad language code"),
    ],
)
def test_bad_environment_values(tmp_path: Path, var: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={var: value})
    assert words in err.value.message
    assert "\n" not in err.value.message and err.value.message.endswith(".")


def test_unknown_and_bad_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "repoversion.toml"
    cfg.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="Unknown setting 'colour'"):
        load_settings(tmp_path, environ={})
    cfg.write_text("workers = \n")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_settings(tmp_path, environ={})
    cfg.write_text("workers = 'two'\n")
    with pytest.raises(ConfigError, match=r"workers in .*repoversion.toml must be an integer"):
        load_settings(tmp_path, environ={})
