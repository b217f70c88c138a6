"""The server's own OpenPGP signing key: created by ``init``, used for Release files.

The secret key is one armored file (setting ``signing_key``, default
``<home>/keys/signing-key.asc``) that every node shares. Each process imports it into a
private temporary GnuPG home (again when the file is replaced) and signs with the real
``gpg``. The public keys still served (the current one and, after ``key rotate``, the
previous ones until ``key retire``) are served together as one keyring:
``/keys/repoversion.asc`` and, for apt's ``signed-by=``, the binary ``repoversion.gpg``
(:func:`public_keyring`).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from collections.abc import Sequence
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
    """Signs with the key in ``key_path``; safe to share between threads.

    The file is watched: when it is replaced (``repoversion key rotate``, or an operator
    installing a new shared key), the next signature is made with the new key, without a
    restart. A private home of a replaced key is kept until :meth:`close`, since another
    thread may still be signing in it.
    """

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._home: Path | None = None
        self._old_homes: list[Path] = []
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._fpr = ""
        self._public = b""

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.key_path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _ensure(self) -> tuple[Path, str]:
        """The private home holding the current key, and its fingerprint."""
        with self._lock:
            stamp = self._file_stamp()
            if self._home is not None and stamp is not None and stamp != self._stamp:
                self._old_homes.append(self._home)  # the file was replaced: import anew
                self._home = None
            if self._home is None:
                if stamp is None:
                    raise ConfigError(
                        f"The signing key {self.key_path} does not exist; run `repoversion init`."
                    )
                home = _private_home()
                _gpg(home, "--import", str(self.key_path))
                self._fpr = _fingerprint(home)
                self._public = _gpg(home, "--armor", "--export", self._fpr)
                self._home, self._stamp = home, stamp
            return self._home, self._fpr

    def close(self) -> None:
        """Stop this signer's gpg-agents and delete its private homes (made anew if the
        signer is used again). Servers call it when a worker exits, where atexit handlers
        do not run."""
        with self._lock:
            for home in [*self._old_homes, *([self._home] if self._home else [])]:
                remove_home(home)
            self._home, self._old_homes = None, []

    @property
    def fingerprint(self) -> str:
        return self._ensure()[1]

    def clearsign(self, data: bytes) -> bytes:
        """InRelease: ``data`` clearsigned."""
        home, fpr = self._ensure()
        return _gpg(home, "--local-user", fpr, "--digest-algo", "SHA512", "--clearsign", data=data)

    def detach_sign(self, data: bytes) -> bytes:
        """Release.gpg: an armored detached signature of ``data``."""
        home, fpr = self._ensure()
        return _gpg(
            home,
            "--local-user",
            fpr,
            "--digest-algo",
            "SHA512",
            "--armor",
            "--detach-sign",
            data=data,
        )

    def public_armored(self) -> bytes:
        """The current key's public part, armored."""
        self._ensure()
        with self._lock:
            return self._public

    def public_binary(self) -> bytes:
        """A keyring apt accepts in ``signed-by=`` (and gpgv in ``--keyring``)."""
        home, fpr = self._ensure()
        return _gpg(home, "--export", fpr)

    @property
    def gnupg_home(self) -> Path:
        """The private GnuPG home holding the key (for ostree's ``--gpg-homedir``)."""
        return self._ensure()[0]


def public_keyring(armored_keys: Sequence[bytes]) -> tuple[bytes, bytes]:
    """One keyring holding every key of ``armored_keys``: armored (``.asc``) and binary
    (``.gpg``, for apt's ``signed-by=`` and ``gpgv --keyring``), keys in the given order.

    :param armored_keys: public keys, each as ``gpg --armor --export`` writes it.
    :raises RepoversionError: gpg cannot read one of them.
    """
    with temporary_home("repoversion-keyring-") as home:
        fprs: list[str] = []
        for key in armored_keys:
            before = set(_public_fingerprints(home))
            _gpg(home, "--import", data=key)
            fprs += [f for f in _public_fingerprints(home) if f not in before]
        binary = b"".join(_gpg(home, "--export", fpr) for fpr in fprs)
        return _gpg(home, "--armor", "--export", *fprs), binary


def _public_fingerprints(home: Path) -> list[str]:
    out = _gpg(home, "--with-colons", "--list-keys").decode()
    return [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
