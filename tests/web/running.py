"""A real ``repoversion serve`` (gunicorn) as a subprocess, and mirror homes on either
database.

``mirror_on_db`` is the ``mirror`` fixture of tests/mirror with the home's
``repoversion.toml`` pointing at ``db_url`` (so every test using it runs on SQLite and on
PostgreSQL, and every process reading that home, in-process or not, uses that database).
A module takes it with ``mirror = mirror_on_db``.

``serving(home, **env)`` starts ``repoversion serve`` on a free loopback port, waits for
``/healthz`` and stops it (SIGTERM) at the end of the ``with`` block::

    with serving(mirror.home, REPOVERSION_FETCH_DEADLINE="5") as server:
        server.get("/healthz", timeout=5)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.mirror.conftest import NOW, mirror_on_db

__all__ = ["mirror_on_db"]  # defined beside Mirror; many modules import it from here

CLI = [sys.executable, "-c", "from repoversion.cli import main; main()"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, **more: str) -> dict[str, str]:
    """This process's environment without its ``REPOVERSION_*``, plus the home's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOVERSION_")}
    env.update(REPOVERSION_HOME=str(home), REPOVERSION_NOW=NOW, **more)
    return env


@dataclass
class Served:
    """A running ``repoversion serve``: its URL and its log."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, timeout: float = 30, **kwargs: Any) -> requests.Response:
        """GET ``path`` on a connection of its own (so requests spread over the workers).

        :param path: relative to the server.
        :param timeout: the client's timeout (connect and each read).
        """
        with requests.Session() as s:
            return s.get(self.url + path, timeout=timeout, allow_redirects=False, **kwargs)


@contextlib.contextmanager
def serving(home: Path, *, workers: int = 2, **env: str) -> Iterator[Served]:
    """``repoversion serve`` over ``home`` with ``REPOVERSION_*`` settings from ``env``.

    :param home: an initialised home.
    :param workers: gunicorn worker processes.
    """
    port = free_port()
    log = home / f"serve-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*CLI, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            env=server_env(home, REPOVERSION_PUBLIC_URL=url, **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    server = Served(url, proc, log)
    try:
        _wait_for_health(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_health(server: Served) -> None:
    deadline = time.monotonic() + 60  # generous: a busy CI machine starts slowly
    while True:
        try:
            if server.get("/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening, or not answering yet
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"repoversion serve did not start:\n{server.log.read_text()}")
        time.sleep(0.1)
