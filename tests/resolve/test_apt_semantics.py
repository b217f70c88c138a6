"""What apt's resolver handles, on a small archive, against the real apt-get.

Alternatives and conflicts, virtual packages, Multi-Arch ``:any``, Essential, Recommends,
``PKG=VERSION`` and ``PKG/SUITE`` (whose dependencies come from that suite when they
must): for each request the lockfile holds exactly what ``apt-get install -s`` installs
from the same served version, and a request apt refuses is refused too, in one sentence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.fixtures.apt import AptClient
from tests.mirror.conftest import Mirror
from tests.resolve.conftest import lock_cli, names

SOURCES = ("bookworm", "bookworm-backports")
#: requests apt-get installs, with Recommends or not
INSTALLABLE: list[tuple[tuple[str, ...], bool]] = [
    (("hello",), False),
    (("hello",), True),
    (("tool",), False),
    (("mailer",), False),
    (("x",), False),
    (("x", "y"), False),
    (("y", "x"), False),
    (("gitx-gui",), False),
    (("base-files", "perl"), False),
    (("hello=0.9-1",), False),
    (("hello=1.0-1",), False),
    (("hello/bookworm",), False),
    (("hello/bookworm-backports",), False),
    (("tool2/bookworm-backports",), False),
]


def _apt(make_apt_client: Any, url: str, key: str, recommends: bool) -> AptClient:
    options = {"APT::Install-Recommends": "true"} if recommends else {}
    apt: AptClient = make_apt_client(options=options)
    apt.set_sources([f"deb [signed-by={key}] {url}/v/1.0.0/debian {s} main" for s in SOURCES])
    apt.update()
    return apt


def test_each_request_installs_what_apt_get_installs(
    world_mirror: Mirror, serve: Any, server_key: str, make_apt_client: Any
) -> None:
    srv = serve()
    clients = {r: _apt(make_apt_client, srv.url, server_key, r) for r in (False, True)}
    for packages, recommends in INSTALLABLE:
        expected = sorted(clients[recommends].simulate(packages))
        args = [*packages, *(["--recommends"] if recommends else [])]
        result = lock_cli(world_mirror, *args)
        assert result.code == 0, (packages, result.stderr)
        assert names(json.loads(result.stdout)) == expected, packages
    # the cases that make these requests worth asking
    backports = json.loads(lock_cli(world_mirror, "tool2/bookworm-backports").stdout)
    assert ("libz", "2.5", "amd64") in names(backports)  # switched to the suite, as apt does
    hello = {
        p["name"]: p
        for p in json.loads(lock_cli(world_mirror, "hello/bookworm").stdout)["packages"]
    }
    assert hello["hello"]["version"] == "1.0-1" and hello["hello"]["suite"] == "bookworm"
    assert "hello-doc" not in hello
    assert [n for n, _, _ in names(json.loads(lock_cli(world_mirror, "x", "y").stdout))] == [
        "b",
        "x",
        "y",
    ]


def test_requests_apt_refuses_are_refused_in_one_sentence(
    world_mirror: Mirror, serve: Any, server_key: str, make_apt_client: Any, tmp_path: Path
) -> None:
    srv = serve()
    apt = _apt(make_apt_client, srv.url, server_key, False)
    out = tmp_path / "never.lock.json"
    cases = {
        ("app",): "Cannot install app: app depends on mid, mid depends on libbar (>= 2) "
        "but only libbar 1.0 is available.",
        ("hello", "clash"): "clash conflicts with hello",
        ("mail-transport-agent",): "mail-transport-agent is a virtual package provided by "
        "several packages in repoversion 1.0.0 (amd64) (mta-a 1.0, mta-b 1.0)",
        ("nosuch",): "No package nosuch in repoversion 1.0.0 (amd64).",
        ("hello=3.0",): "hello has no version 3.0 in repoversion 1.0.0 (amd64) "
        "(it has: 2.0-1, 1.0-1, 0.9-1).",
        ("gitx/bookworm-backports",): "gitx is not in suite bookworm-backports of "
        "repoversion 1.0.0 (amd64).",
    }
    for packages, message in cases.items():
        assert not apt.run("install", "-s", *packages).ok, packages
        result = lock_cli(world_mirror, "-o", str(out), *packages)
        assert result.code == 1 and result.stdout == "", packages
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, lines
    assert not out.exists()


def test_a_request_is_not_changed_by_the_requests_before_it(
    world_mirror: Mirror, tmp_path: Path
) -> None:
    """apt protects what was asked for and what it needs; a reused DepCache would carry
    that into the next request (gitx-gui needs gitx, asked for just before)."""
    fresh = _in_new_process(world_mirror, "gitx-gui")
    first = lock_cli(world_mirror, "gitx")
    then = lock_cli(world_mirror, "gitx-gui")
    assert first.code == 0 and then.code == 0, then.stderr
    assert then.stdout == fresh
    assert [n for n, _, _ in names(json.loads(then.stdout))] == ["gitx", "gitx-gui", "libc6", "tk"]


def test_threads_resolving_at_once_get_their_own_answers(world_mirror: Mirror) -> None:
    from repoversion import actions
    from repoversion.config import load_settings
    from repoversion.context import Context

    ctx = Context(load_settings(world_mirror.home, environ=world_mirror.env))
    requests = [["hello"], ["tool"], ["x", "y"], ["gitx-gui"], ["hello/bookworm"]] * 3
    expected = {tuple(r): lock_cli(world_mirror, *r).stdout.encode() for r in requests}
    got: dict[int, bytes] = {}

    def resolve(i: int, request: list[str]) -> None:
        got[i] = actions.lock_packages(ctx, "1.0.0", "amd64", request, recommends=i % 2 == 1)

    threads = [threading.Thread(target=resolve, args=(i, r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ctx.close()
    for i, request in enumerate(requests):
        if i % 2 == 0:
            assert got[i] == expected[tuple(request)], request
        else:
            assert json.loads(got[i])["recommends"] is True


def test_the_hosts_apt_configuration_changes_nothing(world_mirror: Mirror, tmp_path: Path) -> None:
    """Pins and settings of the machine (APT_CONFIG, what other code configured) do not
    reach the resolver: with them, apt would take hello 1.0-1 from the default release."""
    conf = tmp_path / "apt.conf"
    prefs = tmp_path / "preferences"
    prefs.write_text("Package: hello\nPin: version 0.9-1\nPin-Priority: 1001\n")
    conf.write_text(
        'APT::Install-Recommends "true";\nAPT::Default-Release "bookworm";\n'
        f'Dir::Etc::preferences "{prefs}";\n'
    )
    plain = lock_cli(world_mirror, "hello").stdout
    poisoned = _in_new_process(world_mirror, "hello", env={"APT_CONFIG": str(conf)}, first=True)
    assert poisoned == plain
    assert names(json.loads(plain)) == [
        ("hello", "2.0-1", "amd64"),
        ("libc6", "2.36-9", "amd64"),
    ]


def _in_new_process(
    mirror: Mirror, *packages: str, env: dict[str, str] | None = None, first: bool = False
) -> str:
    """``lock`` in a fresh interpreter, without the results cache (``first``: after the
    process read the host's apt configuration, as archive/debversion.py does)."""
    import os
    import shutil

    shutil.rmtree(mirror.home / "cache", ignore_errors=True)
    code = (
        "import sys\n"
        + (
            "from repoversion.archive.debversion import version_cmp; version_cmp('1', '2')\n"
            if first
            else ""
        )
        + "from repoversion.cli import main\nmain(sys.argv[1:])\n"
    )
    args = ["--home", str(mirror.home), "lock", "--version", "1.0.0", "--arch", "amd64", *packages]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    full_env.update(mirror.env, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
