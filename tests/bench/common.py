"""Helpers shared by the benchmark modules: ports, a loopback upstream, measured children.

Nothing here asserts: benchmarks report, tests assert. A benchmark module returns
:class:`Row` objects; ``python -m tests.bench`` prints them in one summary table.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("REPOVERSION_BENCH_CORPUS", REPO.parent / "shared" / "corpus"))
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
TIME = Path("/usr/bin/time")


@dataclass
class Row:
    """One line of the summary table.

    ``ok`` is None for a figure reported without a target; ``result`` overrides the
    PASS/FAIL column (``NOT RUN``, ``CRASHED``).
    """

    bench: str
    measure: str
    value: str
    target: str = ""
    ok: bool | None = None
    result: str = ""

    @property
    def verdict(self) -> str:
        return self.result or {True: "PASS", False: "FAIL", None: ""}[self.ok]


@dataclass
class Measured:
    """A child process that ran to its end: wall time, peak RSS, output."""

    argv: list[str]
    wall: float
    maxrss_kb: int
    returncode: int
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def maxrss_mb(self) -> float:
        return self.maxrss_kb / 1024

    def check(self) -> Measured:
        """:raises RuntimeError: the child failed (with its stderr)."""
        if self.returncode != 0:
            tail = (self.stderr or self.stdout).strip().splitlines()[-15:]
            raise RuntimeError(
                f"{' '.join(self.argv[:4])} … exited {self.returncode}:\n  " + "\n  ".join(tail)
            )
        return self

    def last_json(self) -> dict[str, Any]:
        """The last stdout line that is a JSON object (what the in-process runner prints)."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)  # type: ignore[no-any-return]
        raise RuntimeError(f"no JSON line in the output of {self.argv[:4]}: {self.stdout[-500:]}")


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdin: bytes | None = None,
) -> Measured:
    """Run ``argv`` to its end; wall time and peak RSS of that one child.

    The peak RSS is what ``/usr/bin/time`` reports ("Maximum resident set size", from
    ``wait4()``): the largest of the child and the children it waited for (gpgv, xz …),
    never a sibling's, unlike ``getrusage(RUSAGE_CHILDREN)``, which keeps the largest
    child the benchmark ever had. The command runs under ``/usr/bin/time`` (or, where it is
    missing, a small Python stand-in) because Linux charges a child started by ``vfork()``,
    as ``subprocess`` starts them, with its parent's peak RSS at ``exec()``: ``wait4()`` on
    a direct child of this (large) process would report this process's size.
    """
    with tempfile.TemporaryDirectory(prefix="rv-measure-") as tmp:
        rss_file = Path(tmp) / "rss"
        if TIME.exists():
            wrapped = [str(TIME), "-f", "%M", "-o", str(rss_file), "--", *argv]
        else:
            wrapped = [sys.executable, "-I", "-S", "-c", _WAIT4, str(rss_file), *argv]
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                wrapped,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
            if stdin is not None:
                assert proc.stdin is not None
                proc.stdin.write(stdin)
                proc.stdin.close()
            proc.wait()
            wall = time.perf_counter() - t0
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        # time -o writes "Command exited with non-zero status N" first on failure.
        words = rss_file.read_text().split() if rss_file.exists() else []
        maxrss = int(words[-1]) if words and words[-1].isdigit() else 0
        return Measured(
            list(argv),
            wall,
            maxrss,
            proc.returncode,
            stdout.decode(errors="replace"),
            stderr.decode(errors="replace"),
        )


# The stand-in for /usr/bin/time: fork (not vfork) from a small process, exec, wait4.
_WAIT4 = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Content-Length is always sent

    def log_message(self, format: str, *args: object) -> None:
        pass


class StaticServer:
    """A loopback static HTTP server (ThreadingHTTPServer in a daemon thread).

    ``root`` may be changed between requests: the next request is served from the new
    directory, which is how a benchmark moves its upstream from one state to the next.
    """

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = Path(root)
        self.port = port or free_port()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self, *args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(self.root), **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> StaticServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), partial(self._handler))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` holds the seconds spent."""
    box: list[float] = [0.0]
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - t0


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary directory, removed afterwards unless REPOVERSION_BENCH_KEEP is set."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if os.environ.get("REPOVERSION_BENCH_KEEP"):
            print(f"(kept {path})", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def cache_root() -> Path | None:
    """Where generated upstream data is kept between runs: ``$REPOVERSION_BENCH_CACHE``
    (``off`` disables caching: None), else ``~/.cache/repoversion-bench``."""
    setting = os.environ.get("REPOVERSION_BENCH_CACHE")
    if setting is not None and setting.strip().lower() in ("", "0", "off", "no", "false"):
        return None
    return Path(setting) if setting else Path.home() / ".cache" / "repoversion-bench"


def venv_bin(name: str) -> str:
    """A console script of the interpreter running the benchmark (the project's venv)."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else (shutil.which(name) or name)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.0f} ms"


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None
) -> None:
    """A plain aligned text table."""
    out = out or sys.stdout
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), file=out)
    print(line, file=out)
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)


class Signer:
    """A throwaway GnuPG key in a private ``GNUPGHOME``, signing Release files as Debian does.

    :param gnupg: the GnuPG home to create (mode 0700).
    :param keyring: where :meth:`create` writes the binary keyring that the tools are given.
    """

    def __init__(self, gnupg: Path, keyring: Path) -> None:
        self.gnupg = gnupg
        self.keyring = keyring

    def gpg(self, *args: str, input: bytes | None = None) -> bytes:
        env = dict(os.environ, GNUPGHOME=str(self.gnupg))
        return subprocess.run(
            ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", *args],
            env=env,
            input=input,
            capture_output=True,
            check=True,
        ).stdout

    def create(self, others: bytes = b"") -> None:
        """Make the key; the keyring holds ``others`` (binary keys) followed by it."""
        self.gnupg.mkdir(mode=0o700)
        self.gpg("--quick-gen-key", "Bench <b@example.invalid>", "ed25519", "sign", "never")
        self.keyring.write_bytes(others + self.gpg("--export"))

    def sign(self, dists: Path, release: str) -> None:
        """Write ``release`` as ``dists/Release``, clearsigned as ``InRelease`` and with a
        detached ``Release.gpg``."""
        (dists / "Release").write_text(release)
        (dists / "InRelease").write_bytes(self.gpg("--clearsign", input=release.encode()))
        (dists / "Release.gpg").write_bytes(self.gpg("-abs", input=release.encode()))

    def close(self) -> None:
        """Stop the gpg-agent that signing started."""
        if self.gnupg.exists():
            subprocess.run(
                ["gpgconf", "--kill", "gpg-agent"],
                env=dict(os.environ, GNUPGHOME=str(self.gnupg)),
                check=False,
                capture_output=True,
            )
