"""``repoversion key rotate`` and ``key retire``: the new key signs what is generated from
then on, stored Releases keep their bytes, ``/keys/`` serves both keys until the overlap
ends, and apt and gpgv accept the two-key keyring."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import delete, select

from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.db.models import SigningKey
from repoversion.db.session import transaction
from tests.fixtures.archives import Pkg

INRELEASE = "/v/{}/debian/dists/bookworm/InRelease"


def _valid_signers(keyring: Path, signed: bytes, tmp_path: Path) -> set[str]:
    """Primary fingerprints of the good signatures gpgv finds (VALIDSIG, as apt decides)."""
    path = tmp_path / "signed"
    path.write_bytes(signed)
    proc = subprocess.run(
        ["gpgv", "--status-fd", "1", "--keyring", str(keyring), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        line.split()[-1]
        for line in proc.stdout.splitlines()
        if line.startswith("[GNUPG:] VALIDSIG")
    }


def _keyring_fingerprints(keyring: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "show.gpg"
    path.write_bytes(keyring)
    out = subprocess.run(
        ["gpg", "--with-colons", "--show-keys", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    return [
        lines[i + 1].split(":")[9]
        for i, line in enumerate(lines)
        if line.startswith("pub:") and lines[i + 1].startswith("fpr:")
    ]


def _rows(home: Path) -> dict[str, bool]:
    """fingerprint → retired, from the home's database."""
    ctx = Context(load_settings(home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            return {k.fingerprint: k.retired is not None for k in s.scalars(select(SigningKey))}
    finally:
        ctx.close()


def _line(keyring: Path, url: str) -> str:
    return f"deb [signed-by={keyring}] {url} bookworm main"


def test_rotate_then_retire(  # type: ignore[no-untyped-def]
    mirror, fixture_archive, serve, make_apt_client, tmp_path
) -> None:
    arc = fixture_archive([Pkg("hello", "1.0")])
    mirror.add(arc)
    mirror.sync()
    srv = serve()
    old_inrelease = srv.get(INRELEASE.format("1.0.0")).content
    old_keyring = srv.get("/keys/repoversion.gpg").content
    (old_fpr,) = _keyring_fingerprints(old_keyring, tmp_path)
    secret = (mirror.home / "keys" / "signing-key.asc").read_bytes()

    rotated = mirror.cli("key", "rotate")
    assert rotated.code == 0, rotated.stderr
    new_fpr = rotated.stdout.strip()
    assert new_fpr != old_fpr and len(new_fpr) == 40
    assert (mirror.home / "keys" / "retired" / f"{old_fpr}.asc").read_bytes() == secret
    assert _rows(mirror.home) == {old_fpr: False, new_fpr: False}

    arc.add(Pkg("world", "1.0"))
    arc.publish()
    assert mirror.sync()["repoversion"] == "1.1.0"
    # the running server signs the new version with the new key: it re-read the key file
    new_inrelease = srv.get(INRELEASE.format("1.1.0")).content
    both = tmp_path / "both.gpg"
    both.write_bytes(serve().get("/keys/repoversion.gpg").content)
    assert _keyring_fingerprints(both.read_bytes(), tmp_path) == [old_fpr, new_fpr]
    assert (mirror.home / "keys" / "repoversion.gpg").read_bytes() == both.read_bytes()
    asc = serve().get("/keys/repoversion.asc").content
    assert asc.count(b"BEGIN PGP PUBLIC KEY BLOCK") == 1
    assert _keyring_fingerprints(asc, tmp_path) == [old_fpr, new_fpr]
    assert _valid_signers(both, new_inrelease, tmp_path) == {new_fpr}
    # the old version's stored Release keeps its bytes, from a new process too
    assert srv.get(INRELEASE.format("1.0.0")).content == old_inrelease
    assert serve().get(INRELEASE.format("1.0.0")).content == old_inrelease
    assert _valid_signers(both, old_inrelease, tmp_path) == {old_fpr}
    new_only = tmp_path / "new.gpg"
    new_only.write_bytes(_export(both, new_fpr, tmp_path))
    assert _valid_signers(new_only, old_inrelease, tmp_path) == set()

    apt = make_apt_client()
    apt.set_sources(
        [_line(both, f"{srv.url}/v/1.0.0/debian"), _line(both, f"{srv.url}/v/1.1.0/debian")]
    )
    apt.update()
    assert apt.simulate(["world"]) == [("world", "1.0", "amd64")]

    retired = mirror.cli("key", "retire")
    assert retired.code == 0, retired.stderr
    assert old_fpr in retired.stderr
    assert _rows(mirror.home) == {old_fpr: True, new_fpr: False}
    after = serve()
    for name in ("repoversion.gpg", "repoversion.asc"):
        served = after.get(f"/keys/{name}").content
        assert _keyring_fingerprints(served, tmp_path) == [new_fpr]
        assert (mirror.home / "keys" / name).read_bytes() == served
    assert after.get(INRELEASE.format("1.0.0")).content == old_inrelease
    again = mirror.cli("key", "retire")
    assert again.code == 0 and "No key to retire" in again.stderr


def _export(keyring: Path, fpr: str, tmp_path: Path) -> bytes:
    """One key of ``keyring``, as a binary keyring of its own."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700, exist_ok=True)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--quiet"]
    subprocess.run([*gpg, "--import", str(keyring)], check=True, capture_output=True)
    out = subprocess.run([*gpg, "--export", fpr], check=True, capture_output=True).stdout
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
    return out


def test_a_home_older_than_the_table_gets_its_key_recorded(mirror, serve, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = Context(load_settings(mirror.home, environ={}))
    try:
        with transaction(ctx.sessions) as s:
            (fpr,) = s.scalars(select(SigningKey.fingerprint))
            s.execute(delete(SigningKey))
    finally:
        ctx.close()
    served = serve().get("/keys/repoversion.gpg")
    assert served.status_code == 200
    assert _keyring_fingerprints(served.content, tmp_path) == [fpr]
    assert _rows(mirror.home) == {fpr: False}


def test_rotate_without_a_key_is_one_sentence(mirror) -> None:  # type: ignore[no-untyped-def]
    (mirror.home / "keys" / "signing-key.asc").unlink()
    result = mirror.cli("key", "rotate")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: The signing key {mirror.home / 'keys' / 'signing-key.asc'} does not exist; "
        "run `repoversion init`."
    ]
    assert not (mirror.home / "keys" / "retired").exists()
