"""A PostgreSQL server of the soak's own, restarted once during the run.

The machine's cluster (127.0.0.1:5432) serves everyone's test runs at once, so the soak
does not restart that one: it starts a cluster of its own from the same binaries (the
newest under ``/usr/lib/postgresql``) in a scratch directory, on a free loopback port,
with trust authentication, and restarts it with ``pg_ctl restart -m fast`` (what
``pg_ctlcluster VERSION main restart`` runs for a Debian cluster: every session is
terminated, the server shuts down and starts again). PostgreSQL refuses to run as root,
so as root its commands run as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.deploy.stack import free_port

PG_ROOT = Path("/usr/lib/postgresql")
DATABASE = "soak"


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` (``initdb``, ``pg_ctl``…).

    :raises RuntimeError: no PostgreSQL server is installed.
    """
    versions = sorted(PG_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError(f"no PostgreSQL under {PG_ROOT} (apt-get install postgresql)")
    return str(versions[-1] / name)


class Cluster:
    """``initdb`` on construction; :meth:`start`, :meth:`restart`, :meth:`stop`."""

    def __init__(self) -> None:
        self.top = Path(tempfile.mkdtemp(prefix="rv-soak-pg-"))
        self.data = self.top / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.top, "postgres", "postgres")
        self._run(pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *argv: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *argv] if self.as_postgres else list(argv)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.top)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stderr.strip()}")

    def _pg_ctl(self, action: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.top} -c max_connections=200"
        )
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.top / "server.log"),
                  "-m", "fast", "-w", "-t", "60", "-o", options, action)  # fmt: skip

    def ready(self) -> bool:
        """Whether the server accepts connections (``pg_isready``)."""
        done = subprocess.run(
            [pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            timeout=10,
            check=False,
        )
        return done.returncode == 0

    def start(self) -> None:
        """Start the server and create the database."""
        self._pg_ctl("start")
        self._run(pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  DATABASE)  # fmt: skip

    def restart(self) -> tuple[float, float]:
        """Restart the server; wall-clock times (``time.time()``) when the restart began and
        when the server accepted connections again.

        :raises RuntimeError: it did not come back within a minute.
        """
        began = time.time()
        self._pg_ctl("restart")
        deadline = time.monotonic() + 60
        while not self.ready():
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not come back within 60 s after its restart")
            time.sleep(0.05)
        return began, time.time()

    def stop(self) -> None:
        """Stop the server and remove its files."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop")
        finally:
            shutil.rmtree(self.top, ignore_errors=True)
