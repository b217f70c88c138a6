"""Settings, read once and passed explicitly.

Sources, lowest priority first:

1. built-in defaults (every path relative to the home directory);
2. ``<home>/repoversion.toml``;
3. ``REPOVERSION_<NAME>`` environment variables (``REPOVERSION_DATABASE_URL`` …).

Every value is validated by :func:`load_settings`; a bad one raises
:class:`~repoversion.errors.ConfigError` with one sentence naming where it came from.
Nothing reads the environment at import time.

>>> s = load_settings(Path("/tmp/rv-doctest-home"), environ={"REPOVERSION_WORKERS": "3"})
>>> s.workers, s.database_url
(3, 'sqlite:////tmp/rv-doctest-home/repoversion.db')
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from repoversion.errors import ConfigError

CONFIG_FILE = "repoversion.toml"
ENV_PREFIX = "REPOVERSION_"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. See docs/configuration.md for each field."""

    home: Path
    database_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_presign: bool = False
    s3_presign_expiry: int = 300
    public_url: str = "http://127.0.0.1:8080"
    signing_key: Path | None = None
    ostree_repo: Path | None = None
    now: datetime | None = None
    bind: str = "127.0.0.1:8080"
    # cores (SPEC section 4): each gthread worker runs `threads` threads, so more
    # processes than cores only compete for them
    workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 1))
    # docs/serving.md: threads mostly wait (sendfile, upstream); fetch_waiters of them at
    # most wait for downloads, the rest keep answering
    threads: int = 32
    fetch_concurrency: int = 8
    fetch_deadline: float = 900.0
    fetch_waiters: int = 24
    languages: tuple[str, ...] = ("en",)
    download_concurrency: int = 8
    download_retries: int = 3
    download_timeout: float = 60.0
    max_index_size: int = 2 * 1024**3
    x_accel_redirect: str | None = None
    log_level: str = "INFO"
    # SPEC section 5: reads are public unless this asks for a token on them too
    private_reads: bool = False
    # docs/jobs.md: the queue's workers
    embedded_worker: bool = True
    sync_every: str | None = None
    job_lease: int = 60

    def clock(self) -> datetime:
        """The time the product trusts: ``now`` when set (tests on recorded data), else UTC now."""
        return self.now if self.now is not None else datetime.now(UTC)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key or self.keys_dir / "signing-key.asc"

    @property
    def ostree_repo_path(self) -> Path:
        """The archive-mode ostree repository (SPEC section 7): ``<home>/ostree`` by default."""
        return self.ostree_repo or self.home / "ostree"

    @property
    def auth_conf(self) -> Path:
        return self.home / "auth.conf"


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}.")
    return value


def _opt_str(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    return _str(value, where)


def _int(value: Any, where: str, minimum: int = 1) -> int:
    try:
        number = int(value)
        if isinstance(value, float | bool):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be an integer, got {value!r}.") from None
    if number < minimum:
        raise ConfigError(f"{where} must be at least {minimum}, got {number}.")
    return number


def _float(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be a number, got {value!r}.") from None
    if number <= 0:
        raise ConfigError(f"{where} must be positive, got {number}.")
    return number


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where} must be true or false, got {value!r}.")


def parse_instant(text: str) -> datetime:
    """Parse ``2026-11-25T21:00:00Z`` (ISO 8601) or ``20261125T210000Z`` (apt's snapshot ID).

    :raises ValueError: when the text is neither.
    """
    text = text.strip()
    if re.fullmatch(r"\d{8}T\d{6}Z", text):
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> timedelta:
    """Parse ``6h``, ``90m``, ``1d12h``, ``30s`` (days, hours, minutes, seconds, in that order).

    >>> parse_duration("1d12h"), parse_duration("90m")
    (datetime.timedelta(days=1, seconds=43200), datetime.timedelta(seconds=5400))

    :raises ValueError: not such a duration, or zero.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        raise ValueError(text)
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not duration:
        raise ValueError(text)
    return duration


def _duration(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        parse_duration(str(value))
    except ValueError:
        raise ConfigError(
            f"{where} must be a duration like 6h, 30m or 1d12h, got {value!r}."
        ) from None
    return str(value).strip()


def _instant(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return parse_instant(str(value))
    except ValueError:
        raise ConfigError(
            f"{where} must be a UTC instant like 2026-11-25T21:00:00Z, got {value!r}."
        ) from None


def _url(schemes: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, where: str) -> str:
        text = _str(value, where)
        scheme = text.split(":", 1)[0] if ":" in text else ""
        if scheme not in schemes:
            raise ConfigError(f"{where} must be a {' or '.join(schemes)} URL, got {text!r}.")
        return text

    return check


def _opt_url(schemes: tuple[str, ...]) -> Callable[[Any, str], str | None]:
    check = _url(schemes)
    return lambda value, where: None if value in (None, "") else check(value, where)


def _bind(value: Any, where: str) -> str:
    text = _str(value, where)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where} must be HOST:PORT, got {text!r}.")
    return text


def _languages(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(f"{where} must be a list of language codes, got {value!r}.")
    langs = tuple(str(i).strip() for i in items if str(i).strip())
    for lang in langs:
        if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", lang):
            raise ConfigError(f"{where} has a bad language code {lang!r}.")
    return langs


def _path(value: Any, where: str) -> Path | None:
    if value in (None, ""):
        return None
    return Path(_str(value, where)).expanduser()


def _log_level(value: Any, where: str) -> str:
    text = _str(value, where).upper()
    if text not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{where} must be DEBUG, INFO, WARNING or ERROR, got {value!r}.")
    return text


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "database_url": _url(("sqlite", "postgresql", "postgresql+psycopg", "postgres")),
    "storage_url": _url(("file", "s3")),
    "s3_endpoint_url": _opt_url(("http", "https")),
    "s3_region": _opt_str,
    "s3_presign": _bool,
    "s3_presign_expiry": _int,
    "public_url": _url(("http", "https")),
    "signing_key": _path,
    "ostree_repo": _path,
    "now": _instant,
    "bind": _bind,
    "workers": _int,
    "threads": _int,
    "fetch_concurrency": _int,
    "fetch_deadline": _float,
    "fetch_waiters": _int,
    "languages": _languages,
    "download_concurrency": _int,
    "download_retries": lambda v, w: _int(v, w, minimum=0),
    "download_timeout": _float,
    "max_index_size": _int,
    "x_accel_redirect": _opt_str,
    "log_level": _log_level,
    "embedded_worker": _bool,
    "sync_every": _duration,
    "job_lease": lambda v, w: _int(v, w, minimum=2),
    "private_reads": _bool,
}

SETTING_NAMES = tuple(_PARSERS)


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None
    data = _flatten(data)
    unknown = sorted(set(data) - set(_PARSERS))
    if unknown:
        raise ConfigError(f"Unknown setting {unknown[0]!r} in {path}.")
    return data


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    """A table's keys as flat names: ``[sync] every = "6h"`` is ``sync_every = "6h"``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{sub}": item for sub, item in value.items()})
        else:
            flat[key] = value
    return flat


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(ENV_PREFIX + "HOME") or "./var")


def load_settings(
    home: Path | str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and validate the settings of ``home``.

    :param home: the home directory; defaults to ``$REPOVERSION_HOME`` or ``./var``.
    :param environ: the environment to read ``REPOVERSION_*`` from (default ``os.environ``).
    :raises ConfigError: a value is invalid or the config file cannot be read.
    """
    env = os.environ if environ is None else environ
    home_path = Path(home) if home is not None else default_home(env)
    home_path = home_path.expanduser().absolute()
    config_path = home_path / CONFIG_FILE
    values: dict[str, Any] = {}
    for key, raw in _read_toml(config_path).items():
        values[key] = _PARSERS[key](raw, f"{key} in {config_path}")
    for key, parser in _PARSERS.items():
        var = ENV_PREFIX + key.upper()
        if var in env:
            values[key] = parser(env[var], var)
    settings = Settings(home=home_path, **values)
    if not settings.database_url:
        settings = replace(settings, database_url=f"sqlite:///{home_path / 'repoversion.db'}")
    if not settings.storage_url:
        settings = replace(settings, storage_url=(home_path / "blobs").as_uri())
    if settings.storage_url.startswith("file:") and not settings.storage_url.startswith("file:///"):
        raise ConfigError(
            f"storage_url must be an absolute file:///path, got {settings.storage_url!r}."
        )
    if settings.signing_key is not None and not settings.signing_key.is_absolute():
        settings = replace(settings, signing_key=home_path / settings.signing_key)
    if settings.ostree_repo is not None and not settings.ostree_repo.is_absolute():
        settings = replace(settings, ostree_repo=home_path / settings.ostree_repo)
    return settings


def render_default_config(settings: Settings) -> str:
    """The ``repoversion.toml`` that ``init`` writes: every setting, commented defaults."""
    lines = [
        "# repoversion settings; REPOVERSION_<NAME> environment variables override them.",
        "# See docs/configuration.md for what each one does.",
        "",
    ]
    for f in fields(Settings):
        if f.name == "home":
            continue
        value = getattr(settings, f.name)
        if value is None:
            lines.append(f"# {f.name} = ")
        elif isinstance(value, bool):
            lines.append(f"# {f.name} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"# {f.name} = {value}")
        elif isinstance(value, tuple):
            lines.append(f"# {f.name} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
        else:
            lines.append(f'# {f.name} = "{value}"')
    return "\n".join(lines) + "\n"
