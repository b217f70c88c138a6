"""The server's own OpenPGP signing key: created by ``init``, used for Release files.

The secret key is one armored file (setting ``signing_key``, default
``<home>/keys/signing-key.asc``) that every node shares. Each process imports it once into a
private temporary GnuPG home and signs with the real ``gpg``. The public key is served as
``/keys/repoversion.asc`` and, for apt's ``signed-by=``, as the binary ``repoversion.gpg``.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from pathlib import Path

from repoversion.archive.gnupg import new_home, remove_home, temporary_home
from repoversion.errors import ConfigError, RepoversionError

KEY_UID = "repoversion signing key <repoversion@localhost>"


def _gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    cmd = [
        "gpg",
        "--homedir",
        str(home),
        "--batch",
        "--quiet",
        "--no-tty",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
        *args,
    ]
    proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RepoversionError(
            f"gpg {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}."
        )
    return proc.stdout


def _private_home() -> Path:
    home = new_home()
    atexit.register(remove_home, home)
    return home


def generate_signing_key(path: Path, uid: str = KEY_UID) -> str:
    """Create a new ed25519 signing key and write its armored secret key to ``path``.

    :returns: the key's fingerprint.
    :raises RepoversionError: gpg failed.
    """
    with temporary_home("repoversion-keygen-") as home:
        _gpg(home, "--quick-gen-key", uid, "ed25519", "sign", "never")
        secret = _gpg(home, "--armor", "--export-secret-keys")
        fpr = _fingerprint(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(path)
    return fpr


def _fingerprint(home: Path) -> str:
    out = _gpg(home, "--with-colons", "--list-secret-keys").decode()
    for line in out.splitlines():
        if line.startswith("fpr:"):
            return line.split(":")[9]
    raise RepoversionError("The signing key has no fingerprint.")


class Signer:
    """Signs with the key in ``key_path``; safe to share between threads."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._home: Path | None = None
        self._lock = threading.Lock()
        self._fpr = ""

    def _ensure(self) -> Path:
        with self._lock:
            if self._home is None:
                if not self.key_path.is_file():
                    raise ConfigError(
                        f"The signing key {self.key_path} does not exist; run `repoversion init`."
                    )
                home = _private_home()
                _gpg(home, "--import", str(self.key_path))
                self._fpr = _fingerprint(home)
                self._home = home
            return self._home

    def close(self) -> None:
        """Stop this signer's gpg-agent and delete its private home (it is made anew if
        the signer is used again). Servers call it when a worker exits, where atexit
        handlers do not run."""
        with self._lock:
            if self._home is not None:
                remove_home(self._home)
                self._home = None

    @property
    def fingerprint(self) -> str:
        self._ensure()
        return self._fpr

    def clearsign(self, data: bytes) -> bytes:
        """InRelease: ``data`` clearsigned."""
        home = self._ensure()
        return _gpg(
            home, "--local-user", self._fpr, "--digest-algo", "SHA512", "--clearsign", data=data
        )

    def detach_sign(self, data: bytes) -> bytes:
        """Release.gpg: an armored detached signature of ``data``."""
        home = self._ensure()
        return _gpg(
            home,
            "--local-user",
            self._fpr,
            "--digest-algo",
            "SHA512",
            "--armor",
            "--detach-sign",
            data=data,
        )

    def public_armored(self) -> bytes:
        return _gpg(self._ensure(), "--armor", "--export", self._fpr)

    def public_binary(self) -> bytes:
        """A keyring apt accepts in ``signed-by=`` (and gpgv in ``--keyring``)."""
        return _gpg(self._ensure(), "--export", self._fpr)

    @property
    def gnupg_home(self) -> Path:
        """The private GnuPG home holding the key (for ostree's ``--gpg-homedir``)."""
        return self._ensure()
