"""Archive keyrings: read a file (binary or armored), check it holds public keys, normalise it.

Keyrings are stored in the database as binary OpenPGP public keys, the form ``gpgv
--keyring`` and apt's ``signed-by=`` accept. Each archive's keyring is its own: nothing
here reads the host's ``/etc/apt/trusted.gpg*``, whose keys apt trusts for every source.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from repoversion.archive.gnupg import temporary_home
from repoversion.errors import InvalidInput


def _run(args: list[str], data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    with temporary_home("repoversion-kr-") as home:
        return subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args],
            input=data,
            capture_output=True,
            check=False,
        )


def fingerprints(keyring: bytes) -> list[str]:
    """Primary-key fingerprints of the public keys in ``keyring`` (binary or armored)."""
    proc = _run(["--with-colons", "--show-keys"], data=keyring)
    fprs: list[str] = []
    expect_fpr = False
    for line in proc.stdout.decode(errors="replace").splitlines():
        kind = line.split(":", 1)[0]
        if kind == "pub":
            expect_fpr = True
        elif kind == "fpr" and expect_fpr:
            fprs.append(line.split(":")[9])
            expect_fpr = False
    return fprs


def normalise(data: bytes, what: str) -> bytes:
    """Return ``data`` as a binary keyring.

    :raises InvalidInput: ``data`` holds no OpenPGP public key.
    """
    if b"-----BEGIN PGP" in data[:4096]:
        proc = _run(["--dearmor"], data=data)
        if proc.returncode != 0 or not proc.stdout:
            raise InvalidInput(f"{what} is not a valid armored OpenPGP keyring.")
        data = proc.stdout
    if not fingerprints(data):
        raise InvalidInput(f"{what} holds no OpenPGP public key.")
    return data


def read_keyring(path: Path) -> bytes:
    """Read and normalise a keyring file.

    :raises InvalidInput: unreadable, empty, or not a keyring.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read keyring {path}: {exc.strerror}.") from None
    if not data:
        raise InvalidInput(f"Keyring {path} is empty.")
    return normalise(data, f"Keyring {path}")
