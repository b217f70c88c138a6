"""verify_signed_release against the real gpgv: throwaway keys and Debian's own files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from repoversion.archive.verify import verify_signed_release
from repoversion.errors import ConfigError, SignatureError
from tests.archive.conftest import Keys
from tests.fixtures.corpus import DEBIAN_KEYRING

RELEASE = b"Origin: Test\nSuite: stable\nDate: Sat, 10 Aug 2024 09:01:23 UTC\n"

# Debian's keys that sign bookworm's InRelease (archive keys 12 and 13, release key 12).
BOOKWORM_SIGNERS = [
    "B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8",
    "04B54C3CDCA79751B16BC6B5225629DF75B188BD",
    "4D64FEC119C2029067D6E791F8D2585B8783D481",
]


def gpgv_exit_code(tmp_path: Path, keyring: bytes, signed: bytes) -> int:
    """What gpgv alone says, to show the decision does not follow it."""
    (tmp_path / "k.gpg").write_bytes(keyring)
    (tmp_path / "InRelease").write_bytes(signed)
    command = ["gpgv", "--homedir", str(tmp_path), "--keyring", str(tmp_path / "k.gpg")]
    return subprocess.run([*command, str(tmp_path / "InRelease")], capture_output=True).returncode


def test_inrelease_signed_by_a_keyring_key(keys: Keys) -> None:
    result = verify_signed_release(keys.export("a"), inrelease=keys.clearsign(RELEASE, "a"))
    assert result.content == RELEASE
    assert result.fingerprints == (keys.fingerprints["a"],)
    assert result.warnings == ()


def test_armored_keyring(keys: Keys) -> None:
    keyring = keys.export("a", armor=True)
    assert keyring.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    result = verify_signed_release(keyring, inrelease=keys.clearsign(RELEASE, "a"))
    assert result.content == RELEASE


def test_second_signature_by_unknown_key_is_ignored(keys: Keys, tmp_path: Path) -> None:
    signed = keys.clearsign(RELEASE, "a", "b")
    assert gpgv_exit_code(tmp_path, keys.export("a"), signed) == 2
    result = verify_signed_release(keys.export("a"), inrelease=signed)
    assert result.content == RELEASE
    assert result.fingerprints == (keys.fingerprints["a"],)
    assert any(keys.fingerprints["b"][-16:] in warning for warning in result.warnings)


def test_both_signers_in_keyring(keys: Keys) -> None:
    result = verify_signed_release(
        keys.export("a", "b"), inrelease=keys.clearsign(RELEASE, "a", "b")
    )
    assert result.fingerprints == tuple(sorted(keys.fingerprints[n] for n in ("a", "b")))


def test_signed_by_unknown_key_only(keys: Keys) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_signed_release(keys.export("b"), inrelease=keys.clearsign(RELEASE, "a"))
    assert str(caught.value) == (
        "InRelease is not signed by any key of the keyring (signed by unknown key "
        f"{keys.fingerprints['a'][-16:]})"
    )


def test_tampered_content_is_a_bad_signature(keys: Keys) -> None:
    signed = keys.clearsign(RELEASE, "a")
    tampered = signed.replace(b"Suite: stable", b"Suite: stabld")
    with pytest.raises(SignatureError, match=r"^InRelease has a bad signature by key"):
        verify_signed_release(keys.export("a"), inrelease=tampered)


def test_bad_signature_wins_over_a_good_one(keys: Keys) -> None:
    # Signed by a and b, b's signature then corrupted: apt refuses any BADSIG.
    good = keys.clearsign(RELEASE, "a", "b")
    body, _, _ = good.partition(b"-----BEGIN PGP SIGNATURE-----")
    other = keys.clearsign(RELEASE.replace(b"stable", b"stabld"), "b")
    _, _, b_only = other.partition(b"-----BEGIN PGP SIGNATURE-----")
    mixed = body + b"-----BEGIN PGP SIGNATURE-----" + b_only
    with pytest.raises(SignatureError, match="bad signature"):
        verify_signed_release(keys.export("a", "b"), inrelease=mixed)
    assert verify_signed_release(keys.export("a", "b"), inrelease=good).content == RELEASE


@pytest.mark.parametrize("where", ["appended", "prepended"])
def test_unsigned_text_outside_the_signature_is_not_used(keys: Keys, where: str) -> None:
    evil = b"Origin: Evil\nSuite: evil\nDate: Sun, 11 Aug 2024 09:01:23 UTC\n"
    signed = keys.clearsign(RELEASE, "a")
    attacked = signed + b"\n" + evil if where == "appended" else evil + b"\n" + signed
    result = verify_signed_release(keys.export("a"), inrelease=attacked)
    assert result.content == RELEASE
    assert b"Evil" not in result.content
    assert result.warnings == ("InRelease has unsigned text outside its signed block (ignored)",)


def test_two_signed_messages_are_refused(keys: Keys) -> None:
    signed = keys.clearsign(RELEASE, "a")
    other = keys.clearsign(b"Origin: Other\n", "a")
    with pytest.raises(SignatureError, match="holds 2 signed messages"):
        verify_signed_release(keys.export("a"), inrelease=signed + other)


def test_unsigned_inrelease(keys: Keys) -> None:
    with pytest.raises(SignatureError, match=r"^InRelease is not a clearsigned file"):
        verify_signed_release(keys.export("a"), inrelease=RELEASE)


def test_clearsigned_header_without_signature(keys: Keys) -> None:
    fake = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + RELEASE
    with pytest.raises(SignatureError, match=r"^InRelease "):
        verify_signed_release(keys.export("a"), inrelease=fake)


def test_expired_key(keys: Keys, tmp_path: Path) -> None:
    signed = keys.clearsign(RELEASE, "expired", faked_time="20200301T000000!")
    # gpgv itself exits 0 here: only its status lines tell.
    assert gpgv_exit_code(tmp_path, keys.export("expired"), signed) == 0
    with pytest.raises(SignatureError, match="only signed by expired or revoked keys"):
        verify_signed_release(keys.export("expired"), inrelease=signed)


def test_revoked_key(keys: Keys, tmp_path: Path) -> None:
    signed = keys.signed_before_revocation
    assert gpgv_exit_code(tmp_path, keys.export("revoked"), signed) == 0
    with pytest.raises(SignatureError, match=r"revoked key\)$"):
        verify_signed_release(keys.export("revoked"), inrelease=signed)


def test_weak_digest_is_refused(keys: Keys) -> None:
    signed = keys.clearsign(RELEASE, "a", digest="SHA1")
    with pytest.raises(SignatureError, match=r"only signed with a weak digest: .*\(SHA1\)"):
        verify_signed_release(keys.export("a"), inrelease=signed)


def test_detached_signature(keys: Keys) -> None:
    result = verify_signed_release(
        keys.export("a"), release=RELEASE, release_gpg=keys.detach_sign(RELEASE, "a", "b")
    )
    assert result.content == RELEASE
    assert result.fingerprints == (keys.fingerprints["a"],)


def test_detached_signature_of_other_bytes(keys: Keys) -> None:
    signature = keys.detach_sign(RELEASE, "a")
    with pytest.raises(SignatureError, match=r"^Release.gpg has a bad signature"):
        verify_signed_release(
            keys.export("a"), release=RELEASE + b"Extra: 1\n", release_gpg=signature
        )


def test_signed_message_posing_as_detached_signature(keys: Keys) -> None:
    # A signed message carries its own text: gpgv must not verify that instead.
    message = keys.sign_message(b"Origin: Evil\n", "a")
    disguised = message.replace(b"PGP MESSAGE", b"PGP SIGNATURE")
    with pytest.raises(SignatureError, match=r"^Release.gpg "):
        verify_signed_release(keys.export("a"), release=RELEASE, release_gpg=disguised)
    with pytest.raises(SignatureError, match="not an ASCII-armored detached signature"):
        verify_signed_release(keys.export("a"), release=RELEASE, release_gpg=message)


def test_what_names_the_file(keys: Keys) -> None:
    with pytest.raises(SignatureError, match=r"^dists/stable/InRelease is not signed"):
        verify_signed_release(
            keys.export("b"),
            inrelease=keys.clearsign(RELEASE, "a"),
            what="dists/stable/InRelease",
        )


def test_empty_keyring_is_a_configuration_error(keys: Keys) -> None:
    with pytest.raises(ConfigError, match="keyring holds no OpenPGP key"):
        verify_signed_release(b"", inrelease=keys.clearsign(RELEASE, "a"))


def test_arguments_must_name_one_form() -> None:
    with pytest.raises(ValueError):
        verify_signed_release(b"x", release=RELEASE)


@pytest.mark.parametrize(
    "path",
    [
        "debian/dists/bookworm/InRelease",
        "debian/dists/bookworm-updates/InRelease",
        "debian-security/dists/bookworm-security/InRelease",
    ],
)
def test_corpus_inrelease_verifies(corpus: Path, debian_keyring: bytes, path: str) -> None:
    signed = (corpus / path).read_bytes()
    result = verify_signed_release(debian_keyring, inrelease=signed)
    assert result.content.startswith(b"Origin: Debian\n")
    assert len(result.fingerprints) >= 2
    assert result.warnings == ()


def test_corpus_inrelease_content_is_the_release(corpus: Path, debian_keyring: bytes) -> None:
    bookworm = corpus / "debian/dists/bookworm"
    result = verify_signed_release(debian_keyring, inrelease=(bookworm / "InRelease").read_bytes())
    assert result.content == (bookworm / "Release").read_bytes()
    assert result.fingerprints == tuple(sorted(BOOKWORM_SIGNERS))


def test_corpus_release_gpg_verifies(corpus: Path, debian_keyring: bytes) -> None:
    bookworm = corpus / "debian/dists/bookworm"
    release = (bookworm / "Release").read_bytes()
    result = verify_signed_release(
        debian_keyring, release=release, release_gpg=(bookworm / "Release.gpg").read_bytes()
    )
    assert result.content == release


@pytest.mark.parametrize("fingerprint", BOOKWORM_SIGNERS)
def test_corpus_keyring_with_one_debian_key(
    corpus: Path, debian_keyring: bytes, tmp_path: Path, fingerprint: str
) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    one_key = subprocess.run(
        [
            *("gpg", "--homedir", str(home), "--batch", "--no-default-keyring"),
            *("--keyring", str(DEBIAN_KEYRING), "--export", fingerprint),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert one_key
    signed = (corpus / "debian/dists/bookworm/InRelease").read_bytes()
    assert gpgv_exit_code(tmp_path, one_key, signed) == 2
    result = verify_signed_release(one_key, inrelease=signed)
    assert result.fingerprints == (fingerprint,)
    assert len(result.warnings) == 2
