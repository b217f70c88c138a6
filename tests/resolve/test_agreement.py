"""The resolver against apt itself, on real data, offline.

The corpus's bookworm (with bookworm-updates and bookworm-security) is synced from loopback
into 1.0.0 and served by the app; the machine's real ``apt-get``, isolated as
FIELD-NOTES.md shows (``-o Dir=…``, an empty dpkg status, Recommends off), updates from
``/v/1.0.0/…`` with the server's key. For every request, the lockfile's (name, version,
architecture) set must be exactly the set of ``Inst`` lines of ``apt-get install -s``.

The setup (sync, server, ``apt-get update``) is made once per module (per xdist worker);
each request is its own test case, so a mismatch names its request and the cases spread
over the workers. ``apt-get install -s`` is what takes the time (about a second of CPU
per request on the full index).
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from repoversion import actions
from repoversion.cli import main
from repoversion.config import load_settings
from repoversion.context import Context
from repoversion.web import create_app
from repoversion.web.apt import EXTENSION
from tests.fixtures.apt import AptClient
from tests.fixtures.archives import ArchiveServer

NOW = "2026-11-25T00:00:00Z"
#: (packages, recommends): 50 requests build tools make; a few with Recommends, a pinned
#: version, a suite, and several packages at once
REQUESTS: list[tuple[tuple[str, ...], bool]] = [
    ((name,), False)
    for name in (
        "build-essential",
        "python3",
        "git",
        "curl",
        "openssh-server",
        "nginx",
        "postgresql",
        "systemd",
        "vim",
        "gcc",
        "texlive-base",
        "default-jdk",
        "apache2",
        "mariadb-server",
        "docker.io",
        "golang-go",
        "rustc",
        "nodejs",
        "ruby",
        "php",
        "rsyslog",
        "tmux",
        "jq",
        "rsync",
        "zsh",
        "cmake",
        "valgrind",
        "python3-pip",
        "python3-venv",
        "python3-numpy",
        "python3-django",
        "postfix",
        "dovecot-imapd",
        "bind9",
        "nfs-kernel-server",
        "wireguard-tools",
        "fail2ban",
        "haproxy",
        "rabbitmq-server",
        "ghc",
        "r-base-core",
        "devscripts",
        "git-gui",
    )
] + [
    (("sudo", "locales", "cron"), False),
    (("libssl-dev", "pkg-config", "make"), False),
    (("openssl/bookworm-security",), False),
    (("libssl3/bookworm",), False),
    (("hello=2.10-3",), False),
    (("curl",), True),
    (("git",), True),
]
_QUOTED = re.compile(r"^'([^']+)' (\S+) (\d+) SHA256:([0-9a-f]{64})$", re.M)


@dataclass
class Served:
    ctx: Context
    url: str
    apt: AptClient
    apt_recommends: AptClient


def _cli(*args: str) -> None:
    main(list(args))  # raises SystemExit on a failure: the setup fails with its message


@pytest.fixture(scope="module")
def served(
    corpus: Path, debian_keyring_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("agreement")
    home = root / "home"
    home.mkdir()
    # the corpus's bookworm-security InRelease expires: trust a fixed clock
    (home / "repoversion.toml").write_text(f'now = "{NOW}"\n')
    with pytest.MonkeyPatch.context() as mp, ArchiveServer() as upstream:
        for key in [k for k in os.environ if k.startswith("REPOVERSION_")]:
            mp.delenv(key)  # the caller's settings stay out (conftest's _clean_env is per test)
        for name in ("debian", "debian-security"):
            upstream.mount(name, corpus / name)
        _cli("--home", str(home), "init")
        for name, suites in (
            ("debian", ["bookworm", "bookworm-updates"]),
            ("debian-security", ["bookworm-security"]),
        ):
            args = ["archive", "add", name, f"{upstream.base_url}/{name}"]
            args += ["--keyring", str(debian_keyring_path), "--component", "main"]
            args += ["--arch", "amd64", *(a for s in suites for a in ("--suite", s))]
            _cli("--home", str(home), *args)
        _cli("--home", str(home), "sync")
    holder: dict[str, object] = {}
    httpd = make_server("127.0.0.1", 0, lambda e, s: holder["app"](e, s), threaded=True)  # type: ignore[operator]
    url = f"http://127.0.0.1:{httpd.server_port}"
    settings = load_settings(home, environ={"REPOVERSION_PUBLIC_URL": url})
    app = holder["app"] = create_app(settings)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    key = home / "keys" / "repoversion.gpg"
    apt = AptClient(root / "apt")
    apt_recommends = AptClient(root / "apt", options={"APT::Install-Recommends": "true"})
    apt.set_sources(
        [
            f"deb [signed-by={key}] {url}/v/1.0.0/debian bookworm main",
            f"deb [signed-by={key}] {url}/v/1.0.0/debian bookworm-updates main",
            f"deb [signed-by={key}] {url}/v/1.0.0/debian-security bookworm-security main",
        ]
    )
    apt.update()
    ctx = Context(settings)
    try:
        yield Served(ctx, url, apt, apt_recommends)
    finally:
        ctx.close()
        httpd.shutdown()
        httpd.server_close()
        app.extensions[EXTENSION].close()  # type: ignore[union-attr]
        app.extensions["repoversion"].close()  # type: ignore[union-attr]


def _lock(served: Served, packages: tuple[str, ...], recommends: bool) -> dict:  # type: ignore[type-arg]
    data = actions.lock_packages(
        served.ctx, "1.0.0", "amd64", list(packages), recommends=recommends
    )
    return json.loads(data)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("packages", "recommends"),
    REQUESTS,
    ids=[" ".join(p) + (" +recommends" if r else "") for p, r in REQUESTS],
)
def test_the_resolver_chooses_what_apt_get_installs(
    served: Served, packages: tuple[str, ...], recommends: bool
) -> None:
    apt = served.apt_recommends if recommends else served.apt
    expected = sorted(apt.simulate(packages))
    lock = _lock(served, packages, recommends)
    got = sorted((p["name"], p["version"], p["architecture"]) for p in lock["packages"])
    assert got == expected
    assert lock["request"] == list(packages) and lock["recommends"] is recommends


def test_each_entry_is_the_file_apt_downloads(served: Served) -> None:
    """url, size and sha256 of every entry, as ``apt-get install --print-uris`` says."""
    lock = _lock(served, ("build-essential",), False)
    result = served.apt.run(
        "-o", "Acquire::ForceHash=SHA256", "install", "-qq", "-y", "--print-uris", "build-essential"
    )
    assert result.returncode == 0, result.describe()
    apt_says = {
        urllib.parse.unquote(m[0]): (int(m[2]), m[3]) for m in _QUOTED.findall(result.stdout)
    }
    ours = {p["url"]: (p["size"], p["sha256"]) for p in lock["packages"]}
    assert ours == apt_says and len(ours) == 75
    for p in lock["packages"]:
        assert p["url"] == f"{served.url}/v/1.0.0/{p['archive']}/{p['filename']}"
        assert p["ostree"] == f"dpkg/data/{p['sha256']}"
    by_name = {p["name"]: p for p in lock["packages"]}
    assert "cpp-12" in by_name["gcc-12"]["depends"]
    assert set(by_name["build-essential"]["depends"]) >= {"gcc", "g++", "make", "dpkg-dev"}
