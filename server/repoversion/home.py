"""Setting up a home: config file, schema, signing key and its public exports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from repoversion import signingkeys
from repoversion.archive.signing import Signer, generate_signing_key, public_keyring
from repoversion.config import CONFIG_FILE, Settings, render_default_config
from repoversion.db.session import make_engine, make_sessionmaker, transaction, upgrade
from repoversion.errors import InvalidInput


@dataclass(frozen=True)
class InitResult:
    home: Path
    created: bool
    fingerprint: str
    public_asc: Path
    public_gpg: Path


def check_home(home: Path) -> None:
    """:raises InvalidInput: ``home`` exists but is not a writable directory."""
    if home.exists() and not home.is_dir():
        raise InvalidInput(f"Home {home} exists and is not a directory.")
    parent = home
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput(f"Home {home} is not writable.")


def initialise(settings: Settings) -> InitResult:
    """Create (or complete) the home of ``settings``; running it twice changes nothing.

    Settings were validated when loaded, before anything here is written.
    """
    home = settings.home
    check_home(home)
    created = not (home / CONFIG_FILE).exists()
    home.mkdir(parents=True, exist_ok=True)
    if created:
        (home / CONFIG_FILE).write_text(render_default_config(settings))
    upgrade(settings.database_url)
    if settings.storage_url.startswith("file:"):
        from repoversion.storage import open_store

        open_store(settings.storage_url).iter_digests()  # refuses a bad URL before serving
    key = settings.signing_key_path
    if not key.exists():
        generate_signing_key(key)
    signer = Signer(key)
    engine = make_engine(settings.database_url)
    try:
        publish_keys(settings, make_sessionmaker(engine), signer)
        fingerprint = signer.fingerprint
    finally:
        engine.dispose()
        signer.close()
    keys = settings.keys_dir
    return InitResult(
        home=home,
        created=created,
        fingerprint=fingerprint,
        public_asc=keys / "repoversion.asc",
        public_gpg=keys / "repoversion.gpg",
    )


def publish_keys(settings: Settings, sessions: sessionmaker[Session], signer: Signer) -> list[str]:
    """Record the current key's public part in the database (once) and write the keyring
    ``/keys/`` serves to ``<home>/keys/repoversion.asc`` and ``repoversion.gpg``.

    :returns: the fingerprints of the keys served, oldest first.
    """
    with transaction(sessions) as s:
        signingkeys.record(s, signer.fingerprint, signer.public_armored(), datetime.now(UTC))
        served = signingkeys.served(s, signer.fingerprint)
    asc, gpg = public_keyring([k.armored for k in served])
    keys = settings.keys_dir
    keys.mkdir(parents=True, exist_ok=True)
    _write(keys / "repoversion.asc", asc)
    _write(keys / "repoversion.gpg", gpg)
    return [k.fingerprint for k in served]


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
