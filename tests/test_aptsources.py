"""Reading apt sources (deb822 and one-line) and ``init --from-system`` on synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repoversion.aptsources.host import (
    apt_source_paths,
    archive_name,
    host_architectures,
    parse_deb822,
    parse_one_line,
    read_system_sources,
)
from tests.test_run import apt_config


def inline(armored: bytes) -> str:
    """An armored key as a deb822 multi-line field value (blank lines become ' .')."""
    return "\n".join(" " + (line or ".") for line in armored.decode().splitlines())


DEBIAN_SOURCES = """\
# Debian's default on a fresh bookworm install, with a comment inside the paragraph
Types: deb deb-src
# http://snapshots.example.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Architectures: amd64 arm64
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""

ONE_LINE = """\
deb [arch=amd64,i386 signed-by=/etc/apt/keyrings/a.gpg] https://a.example/repo/ stable main extra
deb-src [ signed-by=/etc/apt/keyrings/a.gpg ] https://a.example/repo stable main
# deb http://commented.example/debian bookworm main
deb [arch+=arm64 arch-=amd64] http://b.example/debian trixie main # trailing comment
deb http://flat.example/repo ./
deb file:///srv/local bookworm main
deb cdrom:[Debian 12]/ bookworm main
"""


def test_parse_deb822_keeps_enabled_entries_and_their_options() -> None:
    entries = parse_deb822(DEBIAN_SOURCES, "debian.sources")
    assert [(e.types, e.uris, e.suites, e.components) for e in entries] == [
        (
            ("deb", "deb-src"),
            ("http://mirror.example.org/debian/",),
            ("bookworm", "bookworm-updates"),
            ("main", "contrib"),
        ),
        (
            ("deb",),
            ("http://mirror.example.org/debian-security",),
            ("bookworm-security",),
            ("main",),
        ),
    ]
    assert entries[1].options == {
        "architectures": "amd64 arm64",
        "signed-by": "/usr/share/keyrings/debian-archive-keyring.gpg",
    }


def test_parse_one_line_maps_options_to_deb822_names() -> None:
    entries = parse_one_line(ONE_LINE, "sources.list")
    assert entries[0].options == {
        "architectures": "amd64 i386",
        "signed-by": "/etc/apt/keyrings/a.gpg",
    }
    assert entries[0].components == ("main", "extra") and entries[0].origin == "sources.list:1"
    assert entries[1].types == ("deb-src",) and entries[1].options["signed-by"]
    assert entries[2].options == {"architectures-add": "arm64", "architectures-remove": "amd64"}
    assert entries[2].components == ("main",)
    assert [e.uris[0] for e in entries] == [
        "https://a.example/repo/",
        "https://a.example/repo",
        "http://b.example/debian",
        "http://flat.example/repo",
        "file:///srv/local",
        "cdrom:[Debian 12]/",
    ]


def test_read_system_sources_merges_by_uri_and_skips_what_cannot_be_mirrored(
    tmp_path: Path,
) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "debian.sources").write_text(DEBIAN_SOURCES)
    (tmp_path / "parts" / "old.list.disabled").write_text("deb http://ignored.example/x a b\n")
    (tmp_path / "parts" / "ubuntu.sources").write_text(
        "Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\n"
        "Components: main universe\n\n"
        "Types: deb\nURIs: http://security.ubuntu.com/ubuntu/\nSuites: noble-security\n"
        "Components: main universe\n"
    )
    (tmp_path / "sources.list").write_text(ONE_LINE)
    found = read_system_sources(tmp_path / "parts", tmp_path / "sources.list", ["amd64"])
    by_name = {a.name: a for a in found}
    # sources.list is read first, so b.example/debian takes "debian"; the same last
    # segment on another host then gets that host's first label.
    assert list(by_name) == [
        "repo",
        "debian",
        "debian-mirror",
        "debian-security",
        "ubuntu",
        "ubuntu-security",
    ]
    assert by_name["debian"].url == "http://b.example/debian"
    assert by_name["debian"].architectures == ["arm64"]  # arch+=arm64 arch-=amd64

    repo = by_name["repo"]
    assert repo.url == "https://a.example/repo"
    assert (repo.suites, repo.components) == (["stable"], ["main", "extra"])
    assert repo.architectures == ["amd64", "i386", "source"]
    assert repo.signed_by == ["/etc/apt/keyrings/a.gpg"]

    debian = by_name["debian-mirror"]
    assert debian.url == "http://mirror.example.org/debian"
    assert debian.suites == ["bookworm", "bookworm-updates"]
    assert debian.components == ["main", "contrib"]
    assert debian.architectures == ["amd64", "source"]
    assert debian.signed_by == ["/usr/share/keyrings/debian-archive-keyring.gpg"]
    assert by_name["debian-security"].architectures == ["amd64", "arm64"]

    assert by_name["ubuntu"].url == "http://archive.ubuntu.com/ubuntu"
    assert by_name["ubuntu-security"].url == "http://security.ubuntu.com/ubuntu"
    assert by_name["ubuntu-security"].signed_by == []


def test_arch_add_and_remove_apply_to_the_host_default(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "sources.list").write_text(
        "deb [arch+=arm64 arch-=amd64] http://b.example/debian trixie main\n"
    )
    (found,) = read_system_sources(tmp_path / "parts", tmp_path / "sources.list", ["amd64"])
    assert (found.name, found.architectures) == ("debian", ["arm64"])


def test_archive_names() -> None:
    assert archive_name("http://mirror.example.org/debian") == "debian"
    assert archive_name("http://mirror.example.org/debian-security/") == "debian-security"
    assert archive_name("https://packages.example.com/") == "packages.example.com"
    assert archive_name("https://x.example/Some_Repo+Stuff") == "some_repo-stuff"


def test_apt_source_paths_follow_apt_config(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    conf = apt_config(tmp_path)
    monkeypatch.setenv("APT_CONFIG", str(conf))
    assert apt_source_paths() == (
        tmp_path / "etc-apt" / "sources.list",
        tmp_path / "etc-apt" / "sources.list.d",
    )


def test_init_from_system_adds_archives_with_their_keyrings(
    tmp_path: Path, run_cli, make_gpg_key
) -> None:  # type: ignore[no-untyped-def]
    path_key = make_gpg_key("path-key")
    inline_key = make_gpg_key("inline-key")
    keyring = path_key.write_keyring(tmp_path / "path-key.gpg")
    conf = apt_config(
        tmp_path,
        sources_list=(
            f"deb [arch=amd64 signed-by={keyring}] http://one.example/debian bookworm main\n"
            "# deb http://disabled.example/debian bookworm main\n"
            f"deb-src [signed-by={keyring}] http://one.example/debian bookworm main\n"
        ),
        parts={
            "two.sources": (
                "Types: deb\nURIs: http://two.example/pkgs\nSuites: stable testing\n"
                "Components: main non-free\n"
                f"Signed-By:\n{inline(inline_key.export_armored())}\n\n"
                "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: a\n"
                "Components: main\n"
            ),
        },
    )
    home = tmp_path / "home"
    env = {"APT_CONFIG": str(conf)}
    result = run_cli("--home", str(home), "init", "--from-system", env=env)
    assert result.code == 0, result.stderr
    listed = json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout)
    assert listed == [
        {
            "name": "debian",
            "url": "http://one.example/debian",
            "suites": ["bookworm"],
            "components": ["main"],
            "architectures": ["amd64", "source"],
            "policy": "on_demand",
            "mode": "signed",
            "required": True,
        },
        {
            "name": "pkgs",
            "url": "http://two.example/pkgs",
            "suites": ["stable", "testing"],
            "components": ["main", "non-free"],
            "architectures": host_architectures(),
            "policy": "on_demand",
            "mode": "signed",
            "required": True,
        },
    ]
    for name, key in (("debian", path_key), ("pkgs", inline_key)):
        shown = run_cli("--home", str(home), "archive", "show", name, "--json")
        assert json.loads(shown.stdout)["keyring_fingerprints"] == key.fingerprints, name

    again = run_cli("--home", str(home), "init", "--from-system", env=env)
    assert again.code == 0 and "exists already" in again.stderr


def test_init_from_system_with_no_usable_source_is_one_sentence(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    conf = apt_config(tmp_path, sources_list="deb file:///srv/local bookworm main\n")
    result = run_cli(
        "--home", str(tmp_path / "h"), "init", "--from-system", env={"APT_CONFIG": str(conf)}
    )
    assert result.code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr


DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def _shown_fingerprints(run_cli, home: Path, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    shown = run_cli("--home", str(home), "archive", "show", name, "--json")
    assert shown.code == 0, shown.stderr
    return list(json.loads(shown.stdout)["keyring_fingerprints"])


def _warnings(stderr: str) -> dict[str, str]:
    """``warning: archive 'NAME' …`` lines by archive name."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith("warning: archive '"):
            out[line.split("'")[1]] = line
    return out


def test_init_from_system_without_signed_by_takes_the_distribution_keyring_or_skips(
    tmp_path: Path, run_cli, make_gpg_key, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from repoversion.aptsources import signedby
    from repoversion.archive.keyring import fingerprints

    ubuntu_key = make_gpg_key("ubuntu-archive")
    monkeypatch.setitem(
        signedby.DISTRIBUTION_KEYRINGS, "Ubuntu", ubuntu_key.write_keyring(tmp_path / "u.gpg")
    )
    conf = apt_config(
        tmp_path,
        sources_list=(
            "deb http://deb.example.invalid/debian bookworm main non-free-firmware\n"
            "deb http://ubuntu.example.invalid/ubuntu noble main universe\n"
            # Docker's layout: a …/debian URL and codename, but its own component.
            "deb https://download.example.invalid/linux/debian bookworm stable\n"
            "deb http://other.example.invalid/repo stable main\n"
            "deb http://alice:s3cret@private.example.invalid/debian bookworm main\n"
        ),
    )
    home = tmp_path / "home"
    result = run_cli("--home", str(home), "init", "--from-system", env={"APT_CONFIG": str(conf)})
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    listed = json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout)
    assert [a["name"] for a in listed] == ["debian", "ubuntu"]
    debian_fprs = fingerprints(DEBIAN_KEYRING.read_bytes())
    assert len(debian_fprs) >= 2
    assert _shown_fingerprints(run_cli, home, "debian") == debian_fprs
    assert _shown_fingerprints(run_cli, home, "ubuntu") == ubuntu_key.fingerprints

    warned = _warnings(result.stderr)
    assert set(warned) == {"debian-download", "repo", "debian-private"}, result.stderr
    for name, url in (
        ("debian-download", "https://download.example.invalid/linux/debian"),
        ("repo", "http://other.example.invalid/repo"),
    ):
        assert warned[name] == (
            f"warning: archive {name!r} skipped: its apt source names no Signed-By keyring and "
            f"no distribution keyring is known for it; add it with "
            f"`repoversion archive add {name} {url} … --keyring FILE`."
        )
    assert (
        f"skipped: archive URL must not carry credentials: index.json publishes it; put them "
        f"in {home / 'auth.conf'} as `machine http://private.example.invalid/debian login USER "
        "password PASS` instead."
    ) in warned["debian-private"]
    assert "s3cret" not in result.stderr + result.stdout
    assert b"s3cret" not in (home / "repoversion.db").read_bytes()


def test_init_from_system_skips_a_distribution_source_whose_keyring_is_missing(
    tmp_path: Path, run_cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from repoversion.aptsources import signedby

    missing = tmp_path / "no-such-keyring.gpg"
    monkeypatch.setitem(signedby.DISTRIBUTION_KEYRINGS, "Debian", missing)
    conf = apt_config(
        tmp_path, sources_list="deb http://deb.example.invalid/debian bookworm main\n"
    )
    home = tmp_path / "home"
    result = run_cli("--home", str(home), "init", "--from-system", env={"APT_CONFIG": str(conf)})
    assert result.code == 0, result.stderr
    assert _warnings(result.stderr) == {
        "debian": f"warning: archive 'debian' skipped: its apt source names no Signed-By keyring "
        f"and Debian's keyring {missing} is not installed; install it, or add it with "
        "`repoversion archive add debian http://deb.example.invalid/debian … --keyring FILE`."
    }
    assert json.loads(run_cli("--home", str(home), "archive", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("url", "components", "distribution"),
    [
        ("http://mirror.example.org/debian", ["main", "contrib", "non-free"], "Debian"),
        ("http://mirror.example.org/pub/debian-security/", ["main"], "Debian"),
        ("http://security.debian.org/", ["main"], "Debian"),  # buster's `… buster/updates main`
        ("http://archive.ubuntu.com/ubuntu", ["main", "restricted"], "Ubuntu"),
        ("http://ports.ubuntu.com/ubuntu-ports", ["universe", "multiverse"], "Ubuntu"),
        ("https://download.docker.com/linux/debian", ["stable"], None),
        ("https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu", ["main"], None),
        ("http://archive.ubuntu.com/ubuntu", ["main", "contrib"], None),
        ("https://packages.example.com/", ["main"], None),
    ],
)
def test_distribution_of(url: str, components: list[str], distribution: str | None) -> None:
    from repoversion.aptsources.signedby import distribution_of

    assert distribution_of(url, components) == distribution


def test_an_entry_without_signed_by_adds_its_distribution_keyring_to_the_others(
    tmp_path: Path, make_gpg_key
) -> None:  # type: ignore[no-untyped-def]
    from repoversion.aptsources.host import merge_entries
    from repoversion.aptsources.signedby import spec_of
    from repoversion.archive.keyring import fingerprints
    from repoversion.errors import InvalidInput

    key = make_gpg_key("backports")
    keyring = key.write_keyring(tmp_path / "k.gpg")
    text = (
        "deb http://deb.example.invalid/debian bookworm main\n"
        f"deb [signed-by={keyring}] http://deb.example.invalid/debian bookworm-backports main\n"
        "deb http://x.example.invalid/repo a main\n"
        f"deb [signed-by={keyring}] http://x.example.invalid/repo b main\n"
    )
    debian, repo = merge_entries(parse_one_line(text, "sources.list"), ["amd64"])
    assert (debian.unsigned, debian.signed_by) == (True, [str(keyring)])
    spec = spec_of(debian)
    assert spec.keyring is not None
    assert fingerprints(spec.keyring) == key.fingerprints + fingerprints(
        DEBIAN_KEYRING.read_bytes()
    )
    # Suite "a" would otherwise be checked against keys nobody named for it.
    with pytest.raises(InvalidInput, match="no distribution keyring is known"):
        spec_of(repo)
