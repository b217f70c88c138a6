"""Fixtures for the Debian-format layer: throwaway OpenPGP keys and Debian's keyring.

:class:`Keys` drives the real ``gpg`` in one private GNUPGHOME holding every test key;
``export`` builds a keyring with only the keys a test names, so a key left out is
"unknown" to that keyring exactly as a key missing from an archive keyring is.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


class Keys:
    """Named ed25519 test keys and the gpg operations the tests need."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.fingerprints: dict[str, str] = {}
        #: InRelease signed by ``revoked`` before its revocation was imported.
        self.signed_before_revocation = b""

    def gpg(self, *args: str, data: bytes = b"") -> bytes:
        """Run gpg in the test home; returns stdout, raises with stderr on failure."""
        proc = subprocess.run(
            ["gpg", "--homedir", str(self.home), "--batch", "--quiet", "--yes", *args],
            input=data,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {proc.stderr.decode()}")
        return proc.stdout

    def generate(self, name: str, expire: str = "never", *, faked_time: str = "") -> str:
        extra = [f"--faked-system-time={faked_time}"] if faked_time else []
        uid = f"{name} <{name}@example.invalid>"
        self.gpg(*extra, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", expire)
        listing = self.gpg("--with-colons", "--list-keys", f"<{name}@example.invalid>")
        fpr = next(
            line.split(":")[9] for line in listing.decode().splitlines() if line[:4] == "fpr:"
        )
        self.fingerprints[name] = fpr
        return fpr

    def _signers(self, names: tuple[str, ...]) -> list[str]:
        out: list[str] = []
        for name in names:
            out += ["--local-user", self.fingerprints[name] + "!"]
        return out

    def clearsign(self, data: bytes, *names: str, digest: str = "", faked_time: str = "") -> bytes:
        """An InRelease: ``data`` clearsigned by every key in ``names``."""
        extra = [f"--faked-system-time={faked_time}"] if faked_time else []
        extra += ["--digest-algo", digest] if digest else []
        return self.gpg(*extra, *self._signers(names), "--clearsign", data=data)

    def detach_sign(self, data: bytes, *names: str) -> bytes:
        """A Release.gpg: an armored detached signature of ``data``."""
        return self.gpg(*self._signers(names), "--armor", "--detach-sign", data=data)

    def sign_message(self, data: bytes, name: str) -> bytes:
        """An armored signed *message* (signature and data in one), not a detached one."""
        return self.gpg(*self._signers((name,)), "--armor", "--sign", data=data)

    def export(self, *names: str, armor: bool = False) -> bytes:
        """A keyring holding exactly the public keys in ``names``."""
        fprs = [self.fingerprints[name] for name in names]
        return self.gpg(*(["--armor"] if armor else []), "--export", *fprs)


@pytest.fixture(scope="session")
def keys() -> Iterator[Keys]:
    """Keys ``a`` and ``b``, ``expired`` (valid in 2020 only) and ``revoked``."""
    # Short path: gpg-agent's socket lives in the home and Unix socket paths are short.
    home = Path(tempfile.mkdtemp(prefix="rv-gpg-"))
    home.chmod(0o700)
    k = Keys(home)
    try:
        k.generate("a")
        k.generate("b")
        k.generate("expired", "1y", faked_time="20200101T000000!")
        revoked = k.generate("revoked")
        k.signed_before_revocation = k.clearsign(b"Origin: Test\nSuite: x\n", "revoked")
        certificate = (home / "openpgp-revocs.d" / f"{revoked}.rev").read_bytes()
        # gpg stores the certificate with a ':' guarding its armor against accidents.
        k.gpg("--import", data=certificate.replace(b"\n:-----BEGIN", b"\n-----BEGIN"))
        yield k
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def debian_keyring(debian_keyring_path: Path) -> bytes:
    return debian_keyring_path.read_bytes()
