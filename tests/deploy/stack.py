"""docker/compose.yaml as processes on loopback: the same set-up, without Docker.

What compose runs as containers, :func:`start_stack` runs as processes of this machine,
each with a home of its own, all sharing the database, the blob store and the signing key
through ``REPOVERSION_*`` variables, as compose's services share them:

- ``postgres``: a PostgreSQL database given by the caller (a fresh one per test, or the
  soak's private cluster);
- ``minio`` and ``create-bucket``: moto's S3 server and a fresh bucket, or the filesystem
  store (the case ``X-Accel-Redirect`` serves);
- ``init``: ``repoversion init`` in an admin home (schema, the shared signing key);
- ``server`` (``replicas: 2``): ``repoversion serve --workers 2`` twice, embedded worker off;
- ``worker``: ``repoversion worker``;
- ``nginx``: nginx with docker/nginx.conf, adapted by :func:`nginx_conf` (loopback ports,
  scratch directories, an access log per server block) and nothing else.

Used by tests/deploy and by the soak (``python -m tests.soak``)::

    with start_stack(base, shared, blobs=base / "blobs") as stack:
        stack.get("/healthz")          # through nginx
        stack.cli("sync", "--json")    # the admin home, on the shared settings
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.deploy.nginx import nginx_conf

REPOVERSION = str(Path(sys.executable).parent / "repoversion")
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without ``REPOVERSION_*`` and proxies, plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPOVERSION_") and k.lower() not in _PROXY_VARS
    }
    env.update(settings)
    return env


class Proc:
    """A process started here, in a session of its own, its output in ``log``."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a power cut would: no clean-up at all."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, SIGKILL after ``timeout`` seconds; then SIGKILL to what is left of its
        session (children of a master that died). Returns the exit status."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float = 90) -> None:
        """Wait until ``url`` answers 200 (gunicorn workers load the app after the master
        listens: client timeouts are retried).

        :raises RuntimeError: the process exited, or ``timeout`` passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=5).status_code == 200:
                    return
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer {url}:\n{self.tail()}")
            time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc), as they are now."""
    found = [pid]
    for current in found:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                found += [int(c) for c in children if int(c) not in found]
    return found


def rss_bytes(pids: list[int]) -> int:
    """Sum of the resident set sizes (``VmRSS``) of ``pids``; gone ones count 0."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


@dataclass
class Node:
    """One ``repoversion serve`` (compose: a replica of ``server``)."""

    name: str
    url: str
    port: int
    proc: Proc


@dataclass
class Stack:
    """The running set-up; ``front`` is nginx's public side, ``files`` its internal block."""

    base: Path
    settings: dict[str, str]
    admin: Path
    nodes: list[Node] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    nginx: Proc | None = None
    front: str = ""
    files: str = ""
    front_log: Path = Path()
    files_log: Path = Path()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``repoversion ARGS`` in the admin home, on the shared settings.

        :raises RuntimeError: with ``check``, it exited non-zero (with its stderr).
        """
        done = subprocess.run(
            [REPOVERSION, "--home", str(self.admin), *args],
            env=process_env(self.settings),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"repoversion {' '.join(args)}: {done.stderr.strip()}")
        return done

    def start_worker(self, name: str, **settings: str) -> Proc:
        """``repoversion worker`` with a home of its own (compose: the ``worker`` service)."""
        env = {**self.settings, "REPOVERSION_HOME": str(self.base / name), **settings}
        proc = Proc(name, [REPOVERSION, "worker"], self.base / f"{name}.log", process_env(env))
        self.workers.append(proc)
        return proc

    def get(self, path: str, base: str | None = None, **kwargs: Any) -> requests.Response:
        """GET ``path`` through nginx (or ``base``), on a connection of its own, no
        redirect followed."""
        kwargs.setdefault("timeout", 60)
        with requests.Session() as s:
            s.trust_env = False
            return s.get((base or self.front) + path, allow_redirects=False, **kwargs)

    def server_pids(self) -> list[int]:
        """Every process of every node (gunicorn masters and their workers)."""
        return [pid for node in self.nodes for pid in descendants(node.proc.pid)]


def _start_nginx(stack: Stack, node_ports: list[int], blobs: Path) -> None:
    prefix = stack.base / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    files_port, front_port = free_port(), free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, node_ports, files_port, front_port, blobs))
    argv = ["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, timeout=60)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refuses {conf}:\n{checked.stderr}")
    stack.nginx = Proc("nginx", [*argv, "-g", "daemon off;"], prefix / "nginx.out", os.environ)
    stack.front, stack.files = f"http://127.0.0.1:{front_port}", f"http://127.0.0.1:{files_port}"
    stack.front_log, stack.files_log = prefix / "front.log", prefix / "files.log"


@contextlib.contextmanager
def start_stack(
    base: Path,
    settings: Mapping[str, str],
    *,
    blobs: Path | None = None,
    nodes: int = 2,
    node_workers: int = 2,
    worker_settings: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """Run ``init``, then ``nodes`` servers, one worker and nginx in front; stop them all
    at the end of the ``with`` block.

    :param base: a scratch directory for homes, logs and nginx's files.
    :param settings: what every process shares (database, store, signing key, AWS keys).
    :param blobs: the filesystem store's directory (then servers answer
        ``X-Accel-Redirect`` and nginx sends the blobs); None for S3.
    :param node_workers: ``serve --workers``.
    :param worker_settings: more ``REPOVERSION_*`` for the worker (``JOB_LEASE``…).
    """
    ports = [free_port() for _ in range(nodes)]
    stack = Stack(base, dict(settings), base / "admin")
    _start_nginx(stack, ports, blobs or base / "no-blobs")
    stack.settings["REPOVERSION_PUBLIC_URL"] = stack.front  # compose: nginx's address
    node_settings = {**stack.settings, "REPOVERSION_EMBEDDED_WORKER": "false"}
    if blobs is not None:
        node_settings["REPOVERSION_X_ACCEL_REDIRECT"] = "/_blobs"
    try:
        stack.cli("init")
        for i, port in enumerate(ports):
            name = f"node-{i + 1}"
            env = process_env({**node_settings, "REPOVERSION_HOME": str(base / name)})
            argv = [REPOVERSION, "serve", "--bind", f"127.0.0.1:{port}"]
            proc = Proc(name, [*argv, "--workers", str(node_workers)], base / f"{name}.log", env)
            stack.nodes.append(Node(name, f"http://127.0.0.1:{port}", port, proc))
        stack.start_worker("worker", **(worker_settings or {}))
        for node in stack.nodes:
            node.proc.wait_http(node.url + "/healthz")
        assert stack.nginx is not None
        stack.nginx.wait_http(stack.front + "/healthz")
        yield stack
    finally:
        for proc in [*(n.proc for n in stack.nodes), *stack.workers]:
            proc.stop()
        if stack.nginx is not None:
            stack.nginx.stop()
