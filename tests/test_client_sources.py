"""The apt lines ``run`` prints for another machine."""

from __future__ import annotations

from repoversion.aptsources.client import client_setup, components_of

INDEX = {
    "repoversion": "2.1.0",
    "archives": {
        "debian": {
            "mode": "signed",
            "suites": {
                "bookworm": {
                    "files": {
                        "contrib/binary-amd64/Packages.xz": {},
                        "main/binary-amd64/Packages.xz": {},
                        "main/binary-amd64/Packages": {},
                        "main/i18n/Translation-en": {},
                        "main/source/Sources.xz": {},
                    }
                },
                "bookworm-updates": {"files": {"main/binary-amd64/Packages.gz": {}}},
            },
        },
        "debian-security": {
            "mode": "verbatim",
            "suites": {
                "bookworm-security": {
                    "files": {
                        "InRelease": {},
                        "updates/main/binary-amd64/Packages.xz": {},
                    }
                }
            },
        },
    },
}


def test_signed_and_verbatim_lines() -> None:
    setup = client_setup(INDEX, "https://rv.example/", {"debian": ["main", "contrib"]})
    assert setup.key_command == (
        "curl -fsSL https://rv.example/keys/repoversion.gpg -o /etc/apt/keyrings/repoversion.gpg"
    )
    signed = "[signed-by=/etc/apt/keyrings/repoversion.gpg]"
    verbatim = "[signed-by=/etc/apt/keyrings/debian-security.gpg check-valid-until=no]"
    assert setup.lines == [
        f"deb {signed} https://rv.example/v/2.1.0/debian bookworm main contrib",
        f"deb-src {signed} https://rv.example/v/2.1.0/debian bookworm main contrib",
        f"deb {signed} https://rv.example/v/2.1.0/debian bookworm-updates main",
        f"deb {verbatim} https://rv.example/v/2.1.0/debian-security bookworm-security updates/main",
    ]
    assert len(setup.notes) == 1 and setup.notes[0].startswith("# debian-security is served")


def test_components_of_ignores_release_files_and_orders_by_configuration() -> None:
    paths = ["InRelease", "b/binary-all/Packages", "a/i18n/Translation-en", "c/cnf/Commands-amd64"]
    assert components_of(paths) == ["a", "b", "c"]
    assert components_of(paths, ["c", "zzz", "a"]) == ["c", "a", "b"]
