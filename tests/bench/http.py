"""HTTP serving benchmark: ``repoversion serve`` against nginx, with ``wrk`` on loopback.

Measured in one run (see docs/benchmarks.md), for two files of one synced version:

- the corpus's 8.8 MB ``Packages.xz`` (bookworm main amd64), an index file of the version:
  ``/v/X.Y.Z/debian/dists/bookworm/main/binary-amd64/Packages.xz``;
- a 50 KB pool file: the ``.deb`` (50,000 random bytes inside) of a small signed fixture
  archive synced with the ``immediate`` policy, so its blob is stored:
  ``/v/X.Y.Z/fixture/pool/main/b/bench-blob/bench-blob_1.0-1_amd64.deb``;

each through

1. ``repoversion serve`` alone (real gunicorn: ``repoversion --home H serve --bind
   127.0.0.1:P --workers W``), with its default number of workers and, for comparison,
   with one worker per core;
2. nginx serving the same bytes from disk (a static root with the same URL paths);
3. nginx in front of repoversion with the configuration docs/ recommends: docker/nginx.conf
   with its addresses and directories substituted into a scratch copy, the app started
   with ``REPOVERSION_X_ACCEL_REDIRECT=/_blobs``; the proxy cache is warmed first and
   checked (``X-Cache-Status: HIT``).

For reference (no target), the internal server block of that configuration alone: what a
cache miss costs, one trip through gunicorn answered by ``X-Accel-Redirect``.

Every response measured is checked first (status 200, the expected SHA-256), and a wrk run
with socket errors or non-2xx answers never passes. Every server listens on 127.0.0.1
only; every process started here is stopped by its pid (then its own process group, for
workers left behind) at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.bench.common import (
    CORPUS,
    DEBIAN_KEYRING,
    REPO,
    Row,
    StaticServer,
    fmt_s,
    free_port,
    print_table,
    run_measured,
    scratch,
    timed,
    venv_bin,
)

NAME = "http"
NOW = "2026-11-25T00:00:00Z"
SUITE = "bookworm"
XZ_PATH = "dists/bookworm/main/binary-amd64/Packages.xz"
DEB_PAYLOAD = 50_000  # random, so the xz-compressed .deb stays about this size
# .deb files of other sizes, fetched one at a time over one connection through the front
# and from bare nginx: a cache hit should cost about what a static file does, at any size
# (with `tcp_nopush on`, some sizes stalled ~40 ms each on a keep-alive connection).
SWEEP_PAYLOADS = (20_000, 70_000, 100_000, 300_000)
SWEEP_SECONDS = 1
STALL_MS = 10.0
NGINX_CONF = REPO / "docker" / "nginx.conf"
LABELS = {"xz": "9 MB Packages.xz", "deb": "50 KB pool .deb"}

# Targets (issue 4, "Done when").
ALONE_XZ_RATIO_MIN = 0.5  # repoversion alone / nginx, 9 MB file
ALONE_DEB_RPS_MIN = 2500.0  # repoversion alone, 50 KB file
ALONE_DEB_P99_MAX_MS = 50.0
FRONT_RATIO_MIN = 0.8  # nginx front / bare nginx, both files


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--http-duration",
        type=int,
        default=8,
        metavar="S",
        help="seconds of each wrk run (default 8; 10 runs in all)",
    )
    group.add_argument(
        "--http-connections", type=int, default=32, metavar="N", help="wrk -c (default 32)"
    )
    group.add_argument(
        "--http-threads", type=int, default=2, metavar="N", help="wrk -t (default 2)"
    )
    group.add_argument(
        "--http-workers",
        default="default,cores",
        metavar="LIST",
        help="gunicorn workers of repoversion serve alone, comma-separated numbers or "
        "'default' (the workers setting: the cores, at least 2) or 'cores'; the first is held "
        "to the targets and also runs behind nginx, the others are reported "
        "(default: default,cores)",
    )
    group.add_argument(
        "--http-nginx-conf",
        type=Path,
        default=NGINX_CONF,
        metavar="FILE",
        help="the nginx front configuration to adapt and measure (default: docker/nginx.conf)",
    )
    group.add_argument(
        "--http-profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="py-spy (--gil) the workers of repoversion alone on a file that misses a target "
        "(auto), on both files, or never; needs py-spy (`.venv/bin/pip install py-spy`)",
    )


# -- wrk ------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m[1]) * _UNITS[m[2]]


@dataclass
class Wrk:
    """One ``wrk --latency`` run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors: connect, read, write, timeout
    non2xx: int
    spread: str = ""  # established connections per server process, mid-run

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.non2xx == 0

    def text(self) -> str:
        s = f"{self.rps:,.0f} req/s, p99 {self.p99_ms:.1f} ms"
        if not self.clean:
            s += f" ({self.errors} socket errors, {self.non2xx} non-2xx!)"
        return s


def _parse_wrk(out: str) -> Wrk:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and total and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Wrk(
        rps=float(rps[1]),
        p50_ms=_ms(p50[1]),
        p99_ms=_ms(p99[1]),
        requests=int(total[1]),
        errors=sum(int(x) for x in sock.groups()) if sock else 0,
        non2xx=int(non2xx[1]) if non2xx else 0,
    )


def run_wrk(
    url: str,
    opts: argparse.Namespace,
    spread_port: int | None = None,
    shape: tuple[int, int, float] | None = None,
) -> Wrk:
    """``wrk -tT -cC -dS --latency`` on ``url``; with ``spread_port``, also how the
    connections are spread over the server's processes halfway through.

    :param shape: (threads, connections, seconds) instead of the options'.
    """
    threads, conns, seconds = shape or (
        opts.http_threads,
        opts.http_connections,
        opts.http_duration,
    )
    argv = [
        "wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
        "--timeout", "30s", url,
    ]  # fmt: skip
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        spread = ""
        if spread_port is not None:
            time.sleep(seconds / 2)
            spread = connection_spread(spread_port)
        out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"wrk exited {p.returncode}: {err.strip()}")
    w = _parse_wrk(out)
    w.spread = spread
    return w


def connection_spread(port: int) -> str:
    """Established connections to ``port`` per process, busiest first (``ss -tnp``)."""
    if shutil.which("ss") is None:
        return ""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    per = Counter(re.findall(r"pid=(\d+)", out))
    return "/".join(str(n) for _, n in per.most_common())


def fetch(url: str, timeout: float = 60) -> tuple[int, Mapping[str, str], bytes]:
    """GET ``url`` (no proxy, no redirect followed): status, headers (lower case), body."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def check_bytes(url: str, sha256: str) -> Mapping[str, str]:
    """:raises RuntimeError: ``url`` does not answer 200 with the expected bytes."""
    status, headers, body = fetch(url)
    if status != 200 or hashlib.sha256(body).hexdigest() != sha256:
        raise RuntimeError(
            f"GET {url}: {status}, {len(body)} bytes, not the expected file: {body[:300]!r}"
        )
    return headers


# -- processes ------------------------------------------------------------------------------
class Proc:
    """A server started here, in its own session: stopped by its pid, then its group."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log = log
        self._fh = open(log, "wb")  # noqa: SIM115 - closed by stop()
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_http(self, url: str, timeout: float = 60) -> None:
        """Wait until ``url`` answers (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode}:\n{self.tail()}")
            try:
                fetch(url, timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not answer {url}:\n{self.tail()}"
                    ) from None
                time.sleep(0.1)

    def tail(self) -> str:
        self._fh.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def stop(self) -> None:
        """SIGTERM (gunicorn: graceful; nginx: fast shutdown), SIGKILL after 20 s; then
        SIGKILL to what is left of its process group (workers of a master that died)."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._fh.close()


@contextlib.contextmanager
def running(proc: Proc, ready_url: str) -> Iterator[Proc]:
    try:
        proc.wait_http(ready_url)
        yield proc
    finally:
        proc.stop()


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, REPOVERSION_NOW=NOW)
    for key in list(env):
        if key.startswith("REPOVERSION_") and key != "REPOVERSION_NOW":
            env.pop(key)  # nothing from the caller's home leaks into the benchmark's
    for key in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        env.pop(key, None)  # every request stays on 127.0.0.1
    return {**env, **extra}


def repoversion_serve(
    base: Path, home: Path, workers: int, name: str, **settings: str
) -> tuple[Proc, str, int]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        venv_bin("repoversion"), "--home", str(home), "serve",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
    ]  # fmt: skip
    env = _env(REPOVERSION_PUBLIC_URL=url, **settings)
    return Proc(name, argv, base / f"{name}.log", env), url, port


def nginx(base: Path, name: str, conf_text: str) -> Proc:
    prefix = base / name
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(conf_text)
    err = prefix / "error.log"
    test = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(prefix), "-e", str(err), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t refuses {conf}:\n{test.stderr}")
    argv = ["nginx", "-p", str(prefix), "-e", str(err), "-c", str(conf), "-g", "daemon off;"]
    return Proc(name, argv, base / f"{name}.log", _env())


def _temp_paths(prefix: Path) -> str:
    """nginx's temp directories in the scratch prefix (not the compiled-in /var/lib/nginx)."""
    return "".join(
        f"    {kind}_temp_path {prefix / (kind + '_temp')};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def _as_root(text: str) -> str:
    """nginx started as root runs its workers as ``nobody``, which cannot read the
    benchmark's private (0700) scratch directory and answers 403: ``user root;``."""
    if os.geteuid() != 0:
        return text
    text, n = re.subn(r"^user\s+[^;]+;", "user root;", text, flags=re.M)
    return text if n else "user root;\n" + text


def static_conf(base: Path, root: Path, port: int) -> str:
    """Bare nginx serving ``root``: sendfile, keep-alive, nginx's defaults otherwise
    (``tcp_nopush`` off: see docs/benchmarks.md for what it does to cache hits)."""
    prefix = base / "nginx-static"
    return _as_root(f"""worker_processes auto;
pid {prefix / "nginx.pid"};
events {{
    worker_connections 4096;
}}
http {{
{_temp_paths(prefix)}    types {{ }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""")


def front_conf(
    source: Path, base: Path, blobs: Path, app_port: int, files_port: int, port: int
) -> str:
    """docker/nginx.conf adapted to loopback and scratch paths; nothing else changed.

    :raises RuntimeError: the file no longer has a line this substitutes (the benchmark
        would otherwise measure something else than what docs/ recommends).
    """
    prefix = base / "nginx-front"
    text = source.read_text()
    subs = [
        (r"^pid [^;]+;", f"pid {prefix / 'nginx.pid'};"),
        (r"^error_log [^;]+;", f"error_log {prefix / 'error.log'} warn;"),
        (
            r"proxy_cache_path /var/cache/nginx/repoversion ",
            f"proxy_cache_path {prefix / 'cache'} ",
        ),
        (r"server server:8080;", f"server 127.0.0.1:{app_port};"),
        (r"server 127\.0\.0\.1:8081;", f"server 127.0.0.1:{files_port};"),
        (r"listen 127\.0\.0\.1:8081;", f"listen 127.0.0.1:{files_port};"),
        (r"listen 80;", f"listen 127.0.0.1:{port};"),
        (r"alias /var/lib/repoversion/blobs/;", f"alias {blobs}/;"),
        (r"^http \{\n", "http {\n" + _temp_paths(prefix)),
    ]
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl.replace("\\", r"\\"), text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{source} has no line matching {pattern!r} to adapt")
    if re.search(r"^\s*listen\s+(?!127\.0\.0\.1:)", text, re.M):
        raise RuntimeError(f"{source} listens on an address this benchmark does not adapt")
    return _as_root(text)


# -- the version served ---------------------------------------------------------------------
@dataclass
class Served:
    home: Path
    version: str
    blobs: Path
    files: dict[str, tuple[str, str, int]]  # "xz"/"deb" → (URL path, sha256, size)
    sizes: list[tuple[str, str, int]]  # more .deb files, for the cache-hit size sweep


def prepare(base: Path, stack: contextlib.ExitStack) -> Served:
    """A home with the corpus (``on_demand``) and a fixture archive (``immediate``),
    synced once: the new version serves both files from stored blobs."""
    from repoversion.config import load_settings
    from tests.fixtures.archives import ArchiveServer, DebCache, FixtureArchive, Pkg
    from tests.fixtures.gpg import GpgKey

    corpus_xz = CORPUS / "debian" / XZ_PATH
    if not corpus_xz.is_file():
        raise RuntimeError(f"no corpus at {corpus_xz} (REPOVERSION_BENCH_CORPUS)")
    upstream = stack.enter_context(StaticServer(CORPUS))
    key = GpgKey.generate(base)
    stack.callback(key.close)  # its gpg-agent
    archive = FixtureArchive(
        base / "fixture", key, name="fixture", deb_cache=DebCache(base / "debs")
    )
    pkg = Pkg(
        "bench-blob", "1.0-1", files={"usr/share/bench-blob/random.bin": os.urandom(DEB_PAYLOAD)}
    )
    archive.add(pkg, suite=SUITE)
    sweep = [
        Pkg(f"bench-size{n // 1000}k", "1.0-1", files={"usr/share/bench/random.bin": os.urandom(n)})
        for n in SWEEP_PAYLOADS
    ]
    for extra in sweep:
        archive.add(extra, suite=SUITE)
    archive.publish()
    fixture_server = stack.enter_context(ArchiveServer())
    archive.serve(fixture_server)
    stack.callback(archive.close)

    home = base / "home"
    rv = venv_bin("repoversion")
    env = _env()

    def cli(*args: str) -> str:
        return run_measured([rv, "--home", str(home), *args], env=env).check().stdout

    cli("init")
    common = ["--suite", SUITE, "--component", "main", "--arch", "amd64"]
    cli("archive", "add", "debian", f"{upstream.url}/debian", *common,
        "--keyring", str(DEBIAN_KEYRING))  # fmt: skip
    assert archive.keyring_path is not None
    cli("archive", "add", "fixture", archive.url, *common,
        "--keyring", str(archive.keyring_path), "--policy", "immediate")  # fmt: skip
    version = str(json.loads(cli("sync", "--json"))["repoversion"])

    url = load_settings(home, environ=env).storage_url
    if not url.startswith("file:///"):
        raise RuntimeError(f"the benchmark needs the filesystem store, not {url}")
    blobs = Path(url[len("file://") :])

    xz = corpus_xz.read_bytes()
    deb = archive.path(pkg.filename).read_bytes()
    files = {
        "xz": (f"/v/{version}/debian/{XZ_PATH}", hashlib.sha256(xz).hexdigest(), len(xz)),
        "deb": (f"/v/{version}/fixture/{pkg.filename}", hashlib.sha256(deb).hexdigest(), len(deb)),
    }
    sizes = []
    for extra in sweep:
        data = archive.path(extra.filename).read_bytes()
        sizes.append(
            (f"/v/{version}/fixture/{extra.filename}", hashlib.sha256(data).hexdigest(), len(data))
        )
    for path, sha, _size in [*files.values(), *sizes]:
        blob = blobs / "sha256" / sha[:2] / sha[2:]
        if not blob.is_file():
            raise RuntimeError(f"{path} is not stored as {blob} after the sync")
    return Served(home, version, blobs, files, sizes)


def static_root(served: Served, root: Path) -> Path:
    """The same bytes at the same URL paths, as plain files (copies of the blobs)."""
    for path, sha, _size in [*served.files.values(), *served.sizes]:
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(served.blobs / "sha256" / sha[:2] / sha[2:], target)
    return root


# -- measurement ----------------------------------------------------------------------------
def measure(
    setup: str,
    base_url: str,
    served: Served,
    opts: argparse.Namespace,
    spread_port: int | None = None,
) -> dict[str, Wrk]:
    got: dict[str, Wrk] = {}
    for label, (path, sha, _size) in served.files.items():
        check_bytes(base_url + path, sha)
        w = run_wrk(base_url + path, opts, spread_port)
        spread = f"  (connections per worker: {w.spread})" if w.spread else ""
        print(f"  {setup:<36} {LABELS[label]:<17} {w.text()}{spread}", flush=True)
        got[label] = w
    return got


def size_sweep(base_url: str, served: Served, opts: argparse.Namespace) -> list[float]:
    """Median latency (ms) of each sweep file, one connection, one request at a time."""
    out = []
    for path, sha, _size in served.sizes:
        for _ in range(2):  # the second one is a cache hit behind the front
            check_bytes(base_url + path, sha)
        out.append(run_wrk(base_url + path, opts, shape=(1, 1, SWEEP_SECONDS)).p50_ms)
    return out


def warm_front(base_url: str, served: Served) -> str:
    """Fill the proxy cache, then check that both files are cache hits."""
    statuses = []
    for path, sha, _size in served.files.values():
        for _ in range(3):
            headers = check_bytes(base_url + path, sha)
        statuses.append(headers.get("x-cache-status", "(none)"))
    return ", ".join(statuses)


def _pyspy() -> str | None:
    cand = Path(sys.executable).parent / "py-spy"
    return str(cand) if cand.exists() else shutil.which("py-spy")


def profile(proc: Proc, port: int, path: str, opts: argparse.Namespace, out: Path) -> str:
    """py-spy (samples of the thread holding the GIL) over every gunicorn worker while
    wrk runs; the functions that hold it most, as text."""
    pyspy = _pyspy()
    if pyspy is None:
        return "(py-spy is not installed: `.venv/bin/pip install py-spy`, not in pyproject)"
    seconds = opts.http_duration + 2
    spy = subprocess.Popen(
        [pyspy, "record", "--pid", str(proc.pid), "--subprocesses", "--gil", "--format", "raw",
         "--rate", "250", "--duration", str(seconds), "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1)
        w = run_wrk(f"http://127.0.0.1:{port}{path}", opts, port)
        spy.wait(seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    head = f"under py-spy: {w.text()} (connections per worker: {w.spread})\n"
    if not out.exists():
        return head + "(py-spy wrote nothing: is ptrace allowed?)"
    return head + summarise_raw(out.read_text())


def _frame(f: str) -> str:
    """``func (path/file.py:123)`` → ``func (file.py)``."""
    m = re.fullmatch(r"(.*) \((.*?)(?::\d+)?\)", f)
    return f"{m[1]} ({m[2].rsplit('/', 1)[-1]})" if m else f


# Frames every sample shares (thread start-up, gunicorn's and click's start-up).
_BORING = re.compile(
    r"\((threading|thread|arbiter|base|core|decorators|serve|__init__|repoversion)\.py\)$"
    r"|^<module>|^Thread\.|^_WorkItem\.run|^_worker "
)


def summarise_raw(text: str, top: int = 30) -> str:
    """Self and inclusive shares of py-spy's collapsed stacks, per function."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            if not _BORING.search(f):
                incl[f] += n
    if not total:
        return "(no samples)"
    rows = [
        [f"{100 * own[f] / total:5.1f} %", f"{100 * n / total:5.1f} %", f]
        for f, n in incl.most_common(top)
    ]
    buf = io.StringIO()
    print(f"{total} samples holding the GIL, all workers; top {top} by inclusive share", file=buf)
    print_table(["self", "inclusive", "function (file)"], rows, out=buf)
    print("most self time:", file=buf)
    for f, n in own.most_common(12):
        print(f"  {100 * n / total:5.1f} %  {f}", file=buf)
    return buf.getvalue()


def _workers(spec: str, default: int) -> list[int]:
    cores = os.cpu_count() or 1
    out: list[int] = []
    for item in spec.split(","):
        item = item.strip().lower()
        n = default if item == "default" else cores if item == "cores" else int(item)
        if n < 1:
            raise ValueError(f"--http-workers: {item!r}")
        if n not in out:
            out.append(n)
    return out


def run(opts: argparse.Namespace) -> list[Row]:
    for tool in ("wrk", "nginx", "gpg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    from repoversion.config import load_settings

    load_before = os.getloadavg()
    with scratch("rv-bench-http-") as base, contextlib.ExitStack() as stack:
        with timed() as t_prep:
            served = prepare(base, stack)
        default_workers = load_settings(served.home, environ=_env()).workers
        counts = _workers(opts.http_workers, default_workers)
        workers = counts[0]
        wrk_args = (
            f"wrk -t{opts.http_threads} -c{opts.http_connections} -d{opts.http_duration}s "
            "--latency --timeout 30s"
        )
        print(
            f"version {served.version} synced in {fmt_s(t_prep[0])}: "
            + ", ".join(f"{p} ({s:,} bytes)" for p, _h, s in served.files.values())
            + f"\n{wrk_args}; repoversion serve --workers {', '.join(map(str, counts))} "
            f"(default {default_workers}, {os.cpu_count()} cores)",
            flush=True,
        )

        # 1. repoversion serve alone, each worker count
        alone: dict[int, dict[str, Wrk]] = {}
        for n in counts:
            proc, url, port = repoversion_serve(base, served.home, n, f"serve-alone-{n}")
            with running(proc, url + "/healthz"):
                alone[n] = measure(f"repoversion serve alone, {n} workers", url, served, opts, port)

        # 2. nginx static
        port = free_port()
        root = static_root(served, base / "static")
        static_url = f"http://127.0.0.1:{port}"
        with running(nginx(base, "nginx-static", static_conf(base, root, port)), static_url + "/"):
            bare = measure("nginx static", static_url, served, opts)
            sweep_static = size_sweep(static_url, served, opts)

        # 3. nginx front (docker/nginx.conf) → repoversion answering X-Accel-Redirect
        app, app_url, app_port = repoversion_serve(
            base, served.home, workers, "serve-behind-nginx", REPOVERSION_X_ACCEL_REDIRECT="/_blobs"
        )
        with running(app, app_url + "/healthz"):
            accel_headers = [
                fetch(app_url + path)[1].get("x-accel-redirect", "")
                for path, _sha, _size in served.files.values()
            ]
            files_port, front_port = free_port(), free_port()
            conf = front_conf(
                opts.http_nginx_conf, base, served.blobs, app_port, files_port, front_port
            )
            front_url = f"http://127.0.0.1:{front_port}"
            with running(nginx(base, "nginx-front", conf), front_url + "/healthz"):
                cache = warm_front(front_url, served)
                front = measure("nginx front (cache hits)", front_url, served, opts)
                sweep_front = size_sweep(front_url, served, opts)
                files_url = f"http://127.0.0.1:{files_port}"
                accel = measure("nginx X-Accel-Redirect only (misses)", files_url, served, opts)

        # py-spy of repoversion alone where it misses a target
        held = alone[workers]
        missed = {
            "xz": held["xz"].rps < ALONE_XZ_RATIO_MIN * bare["xz"].rps,
            "deb": held["deb"].rps < ALONE_DEB_RPS_MIN
            or held["deb"].p99_ms >= ALONE_DEB_P99_MAX_MS,
        }
        if opts.http_profile == "always":
            missed = dict.fromkeys(missed, True)
        elif opts.http_profile == "never":
            missed = dict.fromkeys(missed, False)
        if any(missed.values()):
            proc, url, port = repoversion_serve(base, served.home, workers, "serve-profiled")
            with running(proc, url + "/healthz"):
                for label in (k for k, v in missed.items() if v):
                    path = served.files[label][0]
                    text = profile(proc, port, path, opts, base / f"{label}.spy")
                    print(
                        f"--- py-spy of repoversion serve alone ({workers} workers), "
                        f"{LABELS[label]}, {text}",
                        flush=True,
                    )
    load_after = os.getloadavg()
    rows = _rows(
        wrk_args, workers, default_workers, counts, (load_before[0], load_after[0]),
        alone, bare, front, accel, cache, accel_headers,
    )  # fmt: skip
    sweep = ", ".join(
        f"{size / 1000:.0f} kB {f:.2f}/{n:.2f}"
        for (_p, _h, size), f, n in zip(served.sizes, sweep_front, sweep_static, strict=True)
    )
    stalled = [
        f"{size / 1000:.0f} kB"
        for (_p, _h, size), f in zip(served.sizes, sweep_front, strict=True)
        if f >= STALL_MS
    ]
    rows.append(
        Row(
            "http",
            "front cache hits, 1 connection: p50 ms front/nginx",
            sweep + (f" (STALLS: {', '.join(stalled)})" if stalled else ""),
        )
    )
    return rows


def _ratio(x: Wrk, y: Wrk) -> float:
    return x.rps / y.rps if y.rps else 0.0


def _rows(
    wrk_args: str,
    workers: int,
    default_workers: int,
    counts: list[int],
    load: tuple[float, float],
    alone: dict[int, dict[str, Wrk]],
    bare: dict[str, Wrk],
    front: dict[str, Wrk],
    accel: dict[str, Wrk],
    cache: str,
    accel_headers: list[str],
) -> list[Row]:
    B = "http"
    rows = [
        Row(B, "wrk on loopback", wrk_args),
        Row(
            B,
            "repoversion serve workers (held to targets)",
            f"{workers} (default {default_workers}; gthread, 4 threads each)",
        ),
        Row(B, "load average (1 min) before / after", f"{load[0]:.2f} / {load[1]:.2f}"),
    ]
    for label in ("xz", "deb"):
        name = LABELS[label]
        rv, ng, fr, xa = alone[workers][label], bare[label], front[label], accel[label]
        r, rf = _ratio(rv, ng), _ratio(fr, ng)
        rows.append(Row(B, f"{name}: nginx static", ng.text()))
        rows.append(
            Row(
                B,
                f"{name}: repoversion alone, {workers} workers",
                f"{rv.text()} ({r:.2f} of nginx)",
            )
        )
        if label == "xz":
            ok = r >= ALONE_XZ_RATIO_MIN and rv.clean
            rows.append(
                Row(B, f"{name}: ratio repoversion alone/nginx", f"{r:.2f}",
                    f">= {ALONE_XZ_RATIO_MIN}", ok)
            )  # fmt: skip
        else:
            ok = rv.rps >= ALONE_DEB_RPS_MIN and rv.clean
            rows.append(
                Row(B, f"{name}: repoversion alone req/s", f"{rv.rps:,.0f}",
                    f">= {ALONE_DEB_RPS_MIN:,.0f}", ok)
            )  # fmt: skip
            ok = rv.p99_ms < ALONE_DEB_P99_MAX_MS
            rows.append(
                Row(B, f"{name}: repoversion alone p99", f"{rv.p99_ms:.1f} ms",
                    f"< {ALONE_DEB_P99_MAX_MS:.0f} ms", ok)
            )  # fmt: skip
        for other in counts[1:]:
            o = alone[other][label]
            rows.append(
                Row(B, f"{name}: repoversion alone, {other} workers",
                    f"{o.text()} ({_ratio(o, ng):.2f} of nginx)")
            )  # fmt: skip
        rows.append(Row(B, f"{name}: nginx front (cache hits)", f"{fr.text()} ({rf:.2f} of nginx)"))
        ok = rf >= FRONT_RATIO_MIN and fr.clean
        rows.append(Row(B, f"{name}: ratio front/nginx", f"{rf:.2f}", f">= {FRONT_RATIO_MIN}", ok))
        rows.append(
            Row(B, f"{name}: X-Accel-Redirect only (misses)",
                f"{xa.text()} ({_ratio(xa, ng):.2f} of nginx)")
        )  # fmt: skip
    rows.append(
        Row(B, "front: X-Cache-Status after warming (xz, deb)", cache,
            "HIT, HIT", cache == "HIT, HIT")
    )  # fmt: skip
    ok = all(accel_headers)
    rows.append(
        Row(B, "app behind nginx answers X-Accel-Redirect",
            "yes" if ok else f"no: {accel_headers}", "yes", ok)
    )  # fmt: skip
    return rows
