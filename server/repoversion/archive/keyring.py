"""Archive keyrings: read a file (binary or armored), check it holds public keys, normalise it.

Keyrings are stored in the database as binary OpenPGP public keys, the form ``gpgv
--keyring`` and apt's ``signed-by=`` accept.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from repoversion.archive.gnupg import temporary_home
from repoversion.errors import InvalidInput

SYSTEM_TRUSTED = (Path("/etc/apt/trusted.gpg"), Path("/etc/apt/trusted.gpg.d"))


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


def system_keyring() -> bytes:
    """The keys apt trusts on this host without ``signed-by`` (``/etc/apt/trusted.gpg*``).

    :raises InvalidInput: the host has none.
    """
    files: list[Path] = []
    for entry in SYSTEM_TRUSTED:
        if entry.is_file():
            files.append(entry)
        elif entry.is_dir():
            files.extend(sorted(p for p in entry.iterdir() if p.suffix in (".gpg", ".asc")))
    blob = b"".join(read_keyring(p) for p in files)
    if not blob:
        raise InvalidInput("No --keyring given and this host has no trusted apt keys to use.")
    return blob
