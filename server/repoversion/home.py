"""Setting up a home: config file, schema, signing key and its public exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from repoversion.archive.signing import Signer, generate_signing_key
from repoversion.config import CONFIG_FILE, Settings, render_default_config
from repoversion.db.session import upgrade
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
    import os

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
    keys = settings.keys_dir
    keys.mkdir(parents=True, exist_ok=True)
    asc, gpg = keys / "repoversion.asc", keys / "repoversion.gpg"
    asc.write_bytes(signer.public_armored())
    gpg.write_bytes(signer.public_binary())
    return InitResult(
        home=home, created=created, fingerprint=signer.fingerprint, public_asc=asc, public_gpg=gpg
    )
