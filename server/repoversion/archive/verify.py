"""Checking an upstream's InRelease, or Release + Release.gpg, as apt does.

The real ``gpgv`` does the cryptography; this module decides from its ``--status-fd``
lines, the way apt's gpgv method does, and never from its exit code alone: Debian signs
each InRelease with two or three keys, and gpgv exits 2 when any one of them is missing
from the keyring even though another signature verified.

A Release is accepted when at least one signature is good and valid (``GOODSIG`` and
``VALIDSIG``) by a key of the keyring, made with a strong digest, and no signature is
bad (``BADSIG``). Signatures by keys missing from the keyring (``NO_PUBKEY``) are then
ignored. Expired or revoked keys (``EXPKEYSIG``, ``REVKEYSIG``), expired signatures and
MD5/SHA-1/RIPEMD-160 digests count for nothing.

For an InRelease the signed text is taken from gpgv's own output (``--output``), never
from the file: text an attacker adds around the signed block is ignored (apt 2.6 also
ignores it, with a warning; it is reported in :attr:`VerifiedRelease.warnings`).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from repoversion.errors import ConfigError, SignatureError

#: Digest algorithms (RFC 4880 ids) that apt refuses: MD5, SHA-1, RIPEMD-160.
WEAK_DIGESTS = {"1": "MD5", "2": "SHA1", "3": "RIPEMD160"}

_TIMEOUT = 60
_BEGIN_SIGNED = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = b"-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"
_ARMOR = re.compile(
    rb"-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(.*?)-----END PGP PUBLIC KEY BLOCK-----",
    re.S,
)
_CRC = re.compile(rb"=[A-Za-z0-9+/]{4}")


@dataclass(frozen=True, slots=True)
class VerifiedRelease:
    """The signed Release text and who signed it.

    :ivar content: the Release bytes that the signatures cover (for an InRelease,
        what gpgv extracted from the clearsigned block).
    :ivar fingerprints: primary-key fingerprints of the keys that made a good
        signature, sorted.
    :ivar warnings: things apt would warn about (unsigned text around the signed
        block, signatures by keys the keyring lacks).
    """

    content: bytes
    fingerprints: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())


@dataclass(slots=True)
class _Status:
    """What gpgv's status lines said, grouped the way apt groups them."""

    good: list[str] = field(default_factory=list)  # key ids of GOODSIG
    valid: dict[str, str] = field(default_factory=dict)  # signing fpr -> primary fpr
    weak: dict[str, str] = field(default_factory=dict)  # signing fpr -> digest name
    bad: list[str] = field(default_factory=list)
    worthless: list[str] = field(default_factory=list)
    no_pubkey: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # ERRSIG (key id, rc)
    nodata: bool = False


def verify_signed_release(
    keyring: bytes,
    *,
    inrelease: bytes | None = None,
    release: bytes | None = None,
    release_gpg: bytes | None = None,
    what: str = "",
) -> VerifiedRelease:
    """Verify an InRelease, or a Release with its detached Release.gpg.

    :param keyring: the OpenPGP public keys allowed to sign, binary or ASCII-armored.
    :param inrelease: the clearsigned InRelease; or else
    :param release: the Release, with
    :param release_gpg: its detached, ASCII-armored signature.
    :param what: names the file in error messages (default ``InRelease`` or
        ``Release.gpg``).
    :returns: the signed Release bytes and the fingerprints that signed them.
    :raises SignatureError: no good signature by a key of the keyring, a bad
        signature, or a file that is not a signature of the expected form.
    :raises ConfigError: the keyring holds no key, or gpgv is not installed.
    :raises ValueError: neither ``inrelease`` nor both ``release`` and
        ``release_gpg`` were given.
    """
    if inrelease is not None:
        if release is not None or release_gpg is not None:
            raise ValueError("give either inrelease or release + release_gpg, not both")
        what = what or "InRelease"
        _check_clearsigned(inrelease, what)
    elif release is not None and release_gpg is not None:
        what = what or "Release.gpg"
        _check_detached(release_gpg, what)
    else:
        raise ValueError("give inrelease, or release and release_gpg")

    gpgv = shutil.which("gpgv")
    if gpgv is None:
        raise ConfigError("gpgv is not installed: install the 'gpgv' package to verify Releases")
    keys = _binary_keyring(keyring)

    # mkdtemp makes the directory 0700: gpgv's home, the keyring and the files to check.
    with tempfile.TemporaryDirectory(prefix="repoversion-gpgv-") as tmp:
        home = Path(tmp)
        (home / "keyring.gpg").write_bytes(keys)
        command = [gpgv, "--homedir", tmp, "--status-fd", "1"]
        command += ["--keyring", str(home / "keyring.gpg")]
        if inrelease is not None:
            (home / "InRelease").write_bytes(inrelease)
            command += ["--output", str(home / "content"), str(home / "InRelease")]
        else:
            assert release is not None and release_gpg is not None
            (home / "Release").write_bytes(release)
            (home / "Release.gpg").write_bytes(release_gpg)
            command += [str(home / "Release.gpg"), str(home / "Release")]
        status, gpgv_said = _run_gpgv(command, what)
        fingerprints, warnings = _decide(status, what, gpgv_said)
        if inrelease is None:
            assert release is not None
            return VerifiedRelease(release, fingerprints, tuple(warnings))
        if not (home / "content").exists():
            raise SignatureError(f"{what} could not be verified: gpgv wrote no signed text")
        content = (home / "content").read_bytes()
    if _outside_text(inrelease):
        warnings.append(f"{what} has unsigned text outside its signed block (ignored)")
    return VerifiedRelease(content, fingerprints, tuple(warnings))


def _run_gpgv(command: list[str], what: str) -> tuple[_Status, str]:
    """Run gpgv; return its parsed status lines and the last line it printed for humans."""
    try:
        proc = subprocess.run(
            command, capture_output=True, timeout=_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise SignatureError(f"{what} could not be verified: gpgv timed out") from None
    said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    last = said[-1].removeprefix("gpgv: ").strip() if said else ""
    return _parse_status(proc.stdout.decode("utf-8", "replace")), last


_ERRSIG_REASONS = {"4": "unsupported algorithm", "9": "missing public key"}


def _decide(status: _Status, what: str, gpgv_said: str) -> tuple[tuple[str, ...], list[str]]:
    """Apply apt's rules to gpgv's status; return the good signers and warnings."""
    if status.bad:
        raise SignatureError(
            f"{what} has a bad signature by key {status.bad[0]}: the text is not what was signed"
        )
    good: set[str] = set()
    weak: list[str] = []
    for signing, primary in status.valid.items():
        if not any(_same_key(signing, key_id) for key_id in status.good):
            continue  # VALIDSIG without GOODSIG: an expired or revoked key
        if signing in status.weak:
            weak.append(f"{primary[-16:]} ({status.weak[signing]})")
            continue
        good.add(primary)
    if good:
        warnings = [
            f"{what} is also signed by key {key_id}, which the keyring does not hold (ignored)"
            for key_id in status.no_pubkey
        ]
        return tuple(sorted(good)), warnings
    if weak:
        raise SignatureError(f"{what} is only signed with a weak digest: {', '.join(weak)}")
    if status.worthless:
        raise SignatureError(
            f"{what} is only signed by expired or revoked keys of the keyring: "
            + ", ".join(status.worthless)
        )
    if status.no_pubkey:
        raise SignatureError(
            f"{what} is not signed by any key of the keyring (signed by unknown key "
            + ", ".join(status.no_pubkey)
            + ")"
        )
    if status.errors:
        key, rc = status.errors[0]
        reason = _ERRSIG_REASONS.get(rc, f"gpg error code {rc}")
        raise SignatureError(
            f"{what} has a signature by key {key} that gpgv cannot check ({reason})"
        )
    if status.nodata:
        raise SignatureError(f"{what} holds no OpenPGP signature")
    detail = f" (gpgv: {gpgv_said})" if gpgv_said else ""
    raise SignatureError(f"{what} has no valid signature{detail}")


def _parse_status(text: str) -> _Status:
    status = _Status()
    for line in text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        words = line[len("[GNUPG:] ") :].split()
        if not words:
            continue
        keyword, args = words[0], words[1:]
        if keyword == "GOODSIG" and args:
            status.good.append(args[0].upper())
        elif keyword == "VALIDSIG" and args:
            signing = args[0].upper()
            status.valid[signing] = (args[9] if len(args) > 9 else args[0]).upper()
            if len(args) > 7 and args[7] in WEAK_DIGESTS:
                status.weak[signing] = WEAK_DIGESTS[args[7]]
        elif keyword == "BADSIG" and args:
            status.bad.append(args[0].upper())
        elif keyword in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG") and args:
            state = {"EXPKEYSIG": "expired key", "REVKEYSIG": "revoked key"}
            status.worthless.append(f"{args[0].upper()} ({state.get(keyword, 'expired')})")
        elif keyword == "NO_PUBKEY" and args:
            status.no_pubkey.append(args[0].upper())
        elif keyword == "ERRSIG" and args:
            status.errors.append((args[0].upper(), args[5] if len(args) > 5 else ""))
        elif keyword == "NODATA":
            status.nodata = True
    # A missing key gives ERRSIG (rc 9) followed by NO_PUBKEY: keep the NO_PUBKEY only.
    missing = set(status.no_pubkey)
    status.errors = [(key, rc) for key, rc in status.errors if key not in missing]
    return status


def _same_key(fingerprint: str, key_id: str) -> bool:
    # GOODSIG gives a long key id (16 hex digits) or a fingerprint.
    return fingerprint.endswith(key_id)


def _check_clearsigned(data: bytes, what: str) -> None:
    """Refuse an InRelease that is not exactly one clearsigned message."""
    lines = data.split(b"\n")
    begins = sum(1 for line in lines if line.rstrip(b"\r") == _BEGIN_SIGNED)
    if begins == 0:
        raise SignatureError(f"{what} is not a clearsigned file (no '{_BEGIN_SIGNED.decode()}')")
    if begins > 1:
        raise SignatureError(f"{what} holds {begins} signed messages; exactly one is allowed")


def _outside_text(data: bytes) -> bool:
    """Whether non-blank text lies before or after the clearsigned block."""
    start = data.find(_BEGIN_SIGNED)
    end = data.rfind(_END_SIGNATURE)
    after = data[end + len(_END_SIGNATURE) :] if end >= 0 else b""
    return bool(data[:start].strip() or after.strip())


def _check_detached(signature: bytes, what: str) -> None:
    """Refuse a Release.gpg that is not made of ASCII-armored signature blocks only.

    A signed *message* sent as Release.gpg would make gpgv verify the text inside it
    instead of the Release; gpgv refuses that too, but refusing early names the problem.
    """
    text = signature.replace(b"\r\n", b"\n").strip()
    if not text.startswith(_BEGIN_SIGNATURE):
        raise SignatureError(f"{what} is not an ASCII-armored detached signature")
    for block in text.split(_END_SIGNATURE)[:-1]:
        if not block.strip().startswith(_BEGIN_SIGNATURE):
            raise SignatureError(f"{what} has text outside its signature blocks")
    if text.split(_END_SIGNATURE)[-1].strip():
        raise SignatureError(f"{what} has text outside its signature blocks")


def _binary_keyring(keyring: bytes) -> bytes:
    """The keyring as binary OpenPGP packets, which is what gpgv reads."""
    if b"-----BEGIN PGP PUBLIC KEY BLOCK-----" in keyring:
        parts = []
        for body in _ARMOR.findall(keyring.replace(b"\r\n", b"\n")):
            lines = [line.strip() for line in body.split(b"\n")]
            # Armor headers ("Comment: …") end at the first empty line.
            if b"" in lines and any(b": " in line for line in lines[: lines.index(b"")]):
                lines = lines[lines.index(b"") + 1 :]
            lines = [line for line in lines if line]
            if lines and _CRC.fullmatch(lines[-1]):
                lines.pop()
            data = b"".join(lines)
            try:
                parts.append(base64.b64decode(data, validate=True))
            except ValueError:
                raise ConfigError("the keyring's ASCII armor is not valid base64") from None
        keyring = b"".join(parts)
    if not keyring:
        raise ConfigError("the keyring holds no OpenPGP key")
    if not keyring[0] & 0x80:
        raise ConfigError("the keyring is not an OpenPGP key file (binary or ASCII-armored)")
    return keyring
