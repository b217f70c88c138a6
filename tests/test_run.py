"""``repoversion run`` (what ``make run`` does), as a real process on loopback.

The machine's apt sources are replaced by synthetic ones through ``APT_CONFIG`` (apt's own
way to point ``Dir::Etc::sourcelist`` and ``sourceparts`` elsewhere), so the test runs the
whole first experience: a fresh home, ``init --from-system``, a first sync, the printed
``deb`` lines, serving; and the offline case, where the sync fails and it serves anyway.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.archives import Pkg

REPOVERSION = Path(sys.executable).parent / "repoversion"
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
NOW = "2025-06-01T00:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def apt_config(tmp_path: Path, sources_list: str = "", parts: dict[str, str] | None = None) -> Path:
    """An ``APT_CONFIG`` file whose sources are ``sources_list`` and ``parts``."""
    etc = tmp_path / "etc-apt"
    (etc / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (etc / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (etc / "sources.list.d" / name).write_text(text)
    conf = etc / "apt.conf"
    conf.write_text(
        f'Dir::Etc::sourcelist "{etc}/sources.list";\n'
        f'Dir::Etc::sourceparts "{etc}/sources.list.d";\n'
    )
    return conf


@dataclass
class Running:
    proc: subprocess.Popen[str]
    base: str

    def stop(self) -> tuple[str, str]:
        """SIGTERM, as a service manager would; gunicorn must exit cleanly."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return out, err


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    procs: list[subprocess.Popen[str]] = []

    def start(home: Path, **env: str) -> Running:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")},
            "REPOVERSION_BIND": f"127.0.0.1:{port}",
            "REPOVERSION_PUBLIC_URL": base,
            "REPOVERSION_WORKERS": "1",
            **env,
        }
        proc = subprocess.Popen(
            [str(REPOVERSION), "--home", str(home), "run"],
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        deadline = time.monotonic() + 120  # generous: CI machines can be very busy
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"run exited with {proc.returncode}:\n{out}\n{err}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return Running(proc, base)
            except OSError:
                time.sleep(0.1)
        pytest.fail("run never answered /healthz")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_run_on_a_fresh_home_adds_system_archives_syncs_prints_lines_and_serves(
    tmp_path: Path, fixture_archive, start_run, apt_client
) -> None:  # type: ignore[no-untyped-def]
    arc = fixture_archive([Pkg("hello", "1.0")])
    conf = apt_config(
        tmp_path,
        parts={"debian.sources": _deb822(arc.url, "bookworm", "main", arc.keyring_path)},
    )
    home = tmp_path / "fresh-home"
    running = start_run(home, APT_CONFIG=str(conf), REPOVERSION_NOW=NOW)
    with urllib.request.urlopen(f"{running.base}/healthz") as resp:
        assert json.load(resp) == {"status": "ok"}

    # Do on "another machine" what the printed lines say: fetch the key, add the line.
    out = _read_stdout_so_far(running)
    deb = next(line for line in out.splitlines() if line.startswith("deb "))
    keyring = tmp_path / "repoversion.gpg"
    with urllib.request.urlopen(f"{running.base}/keys/repoversion.gpg") as resp:
        keyring.write_bytes(resp.read())
    apt_client.set_sources([deb.replace("/etc/apt/keyrings/repoversion.gpg", str(keyring))])
    apt_client.update()
    assert [d.name for d in apt_client.install_download_only(["hello"])] == ["hello_1.0_amd64.deb"]

    rest, err = running.stop()
    out += rest
    assert "Traceback" not in err
    assert "Added archive 'debian'" in err
    assert "New repoversion 1.0.0" in err
    lines = out.splitlines()
    assert (
        f"sudo install -d /etc/apt/keyrings && sudo curl -fsSL "
        f"{running.base}/keys/repoversion.gpg -o /etc/apt/keyrings/repoversion.gpg"
    ) in lines
    assert (
        f"deb [signed-by=/etc/apt/keyrings/repoversion.gpg] {running.base}/v/1.0.0/debian "
        "bookworm main"
    ) in lines
    assert (home / "repoversion.toml").is_file()


def test_run_offline_says_why_in_one_sentence_and_serves_anyway(
    tmp_path: Path, run_cli, start_run
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    assert run_cli("--home", str(home), "init").code == 0
    unreachable = f"http://127.0.0.1:{free_port()}/debian"
    added = run_cli(
        "--home", str(home), "archive", "add", "debian", unreachable,
        "--suite", "bookworm", "--component", "main", "--arch", "amd64",
        "--keyring", str(DEBIAN_KEYRING),
    )  # fmt: skip
    assert added.code == 0, added.stderr
    running = start_run(home, REPOVERSION_DOWNLOAD_RETRIES="0")
    out, err = running.stop()
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, err
    assert "sync failed" in warnings[0] and "cannot fetch" in warnings[0]
    assert "Traceback" not in err
    assert "No repoversion yet" in err
    assert out == ""


def test_run_refuses_a_bad_setting_in_one_sentence(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(REPOVERSION), "--home", str(tmp_path / "h"), "run"],
        env={**os.environ, "REPOVERSION_BIND": "nonsense"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "REPOVERSION_BIND" in proc.stderr
    assert not (tmp_path / "h").exists()


def _read_stdout_so_far(running: Running) -> str:
    """The lines ``run`` printed before serving (it flushes them before gunicorn starts)."""
    assert running.proc.stdout is not None
    fd = running.proc.stdout.fileno()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)
    return b"".join(chunks).decode()


def _deb822(url: str, suites: str, components: str, keyring: Path | None) -> str:
    return f"Types: deb\nURIs: {url}\nSuites: {suites}\nComponents: {components}\n" + (
        f"Signed-By: {keyring}\n" if keyring else ""
    )


def test_serve_refuses_a_bad_bind_in_one_sentence(home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--home", str(home), "serve", "--bind", "8080")
    assert result.code != 0
    assert result.stderr.strip() == "error: --bind must be HOST:PORT, got '8080'."
