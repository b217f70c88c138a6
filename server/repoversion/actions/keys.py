"""Signing-key rotation: ``key rotate`` starts an overlap, ``key retire`` ends it.

``rotate`` records a new key's public part in the database (so ``/keys/`` of every node
serves it beside the old one), then replaces the signing key file; the old secret key is
kept in ``<home>/keys/retired/<fingerprint>.asc``. What is generated from then on (new
Releases, lockfile repositories, ostree commits) is signed by the new key: every process
re-reads the file when it changes. Stored Releases of older versions keep their bytes
(they are ``derived`` blobs, never regenerated), so they stay signed by the old key.
``retire`` stops serving every key but the current one.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from repoversion import signingkeys
from repoversion.archive.signing import Signer, generate_signing_key
from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput
from repoversion.home import publish_keys


@dataclass(frozen=True)
class KeyChange:
    """What ``key rotate`` or ``key retire`` did."""

    current: str
    previous: list[str]
    served: list[str]
    kept: Path | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "current": self.current,
            "previous": self.previous,
            "served": self.served,
            "kept": str(self.kept) if self.kept else None,
        }


def rotate_key(ctx: Context) -> KeyChange:
    """A new signing key; the old one stays served until :func:`retire_keys`.

    :raises ConfigError: there is no signing key yet (``init`` makes it).
    :raises InvalidInput: the signing key file or the keys directory is not writable.
    """
    path = ctx.settings.signing_key_path
    old = Signer(path)
    try:
        old_fpr = old.fingerprint  # ConfigError without a key
        _check_writable(path.parent, ctx.settings.keys_dir)
        with transaction(ctx.sessions) as s:  # a home older than the table: record it first
            signingkeys.record(s, old_fpr, old.public_armored(), datetime.now(UTC))
    finally:
        old.close()
    kept = _keep_aside(path, ctx.settings.keys_dir / "retired", old_fpr)
    fresh = path.with_name(f".{path.name}.new")
    new = Signer(fresh)
    try:
        generate_signing_key(fresh)
        with transaction(ctx.sessions) as s:  # served before it signs anything
            signingkeys.record(s, new.fingerprint, new.public_armored(), datetime.now(UTC))
        new_fpr = new.fingerprint
    finally:
        new.close()
    os.replace(fresh, path)
    _sync_directory(path.parent)
    served = _publish(ctx)
    return KeyChange(new_fpr, [old_fpr], served, kept)


def retire_keys(ctx: Context) -> KeyChange:
    """Serve only the current key from now on.

    :returns: the keys retired now in ``previous`` (empty if the overlap had ended).
    :raises ConfigError: there is no signing key yet.
    """
    signer = Signer(ctx.settings.signing_key_path)
    try:
        current = signer.fingerprint
        with transaction(ctx.sessions) as s:
            signingkeys.record(s, current, signer.public_armored(), datetime.now(UTC))
            retired = signingkeys.retire_others(s, current, datetime.now(UTC))
    finally:
        signer.close()
    return KeyChange(current, retired, _publish(ctx))


def _publish(ctx: Context) -> list[str]:
    """Write the served keyring to the home's ``keys/`` (what ``init`` printed)."""
    signer = Signer(ctx.settings.signing_key_path)
    try:
        return publish_keys(ctx.settings, ctx.sessions, signer)
    finally:
        signer.close()


def _check_writable(*directories: Path) -> None:
    for directory in directories:
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise InvalidInput(
                f"{directory} is not writable, so the signing key cannot be rotated here; "
                "rotate on a machine that can write it."
            )


def _keep_aside(path: Path, retired: Path, fingerprint: str) -> Path:
    """Copy the old secret key to ``retired/<fingerprint>.asc`` (private, durable)."""
    retired.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = retired / f"{fingerprint}.asc"
    tmp = retired / f".{fingerprint}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, path.open("rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    _sync_directory(retired)
    return target


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
