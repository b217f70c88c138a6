"""HTTP serving benchmark: ``repoversion serve`` against nginx, with ``wrk`` on loopback.

Measured in one run (see docs/benchmarks.md), for two files of one synced version:

- the corpus's 8.8 MB ``Packages.xz`` (bookworm main amd64, an index file of the version:
  ``/v/X.Y.Z/debian/dists/bookworm/main/binary-amd64/Packages.xz``);
- a 50 KB pool file: a ``.deb`` of random bytes from a small signed fixture archive synced
  with the ``immediate`` policy, so its blob is stored (``/v/X.Y.Z/fixture/pool/…``);

each through

1. ``repoversion serve`` alone (real gunicorn, ``--workers W``);
2. nginx serving the same bytes from disk (a static root with the same URL paths);
3. nginx in front of repoversion with the configuration docs/ recommends: docker/nginx.conf
   with its addresses and directories substituted into a scratch copy, the app started
   with ``REPOVERSION_X_ACCEL_REDIRECT=/_blobs``; the proxy cache is warmed before
   measuring (and checked: ``X-Cache-Status: HIT``).

For reference (no target), the internal server block of that configuration alone, i.e.
what a cache miss costs: a trip through gunicorn answered by ``X-Accel-Redirect``.

Every server listens on 127.0.0.1 only; every process started here is stopped by its pid
(process group as a last resort) at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
DEB_SIZE = 50_000
NGINX_CONF = REPO / "docker" / "nginx.conf"

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
        help="seconds of each wrk run (default 8; 8 runs in all)",
    )
    group.add_argument(
        "--http-connections", type=int, default=32, metavar="N", help="wrk -c (default 32)"
    )
    group.add_argument(
        "--http-threads", type=int, default=2, metavar="N", help="wrk -t (default 2)"
    )
    group.add_argument(
        "--http-workers",
        type=int,
        default=None,
        metavar="W",
        help="gunicorn workers of repoversion serve (default: its own default, 2 x cores + 1)",
    )
    group.add_argument(
        "--http-profile",
        choices=("auto", "always", "never"),
        default="auto",
        help="py-spy the workers of repoversion alone on a missed target (auto), on both "
        "files, or never (needs py-spy in the venv; skipped with a note without it)",
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
    errors: int  # socket errors (connect, read, write, timeout)
    non2xx: int
    output: str

    @property
    def clean(self) -> bool:
        return self.errors == 0 and self.non2xx == 0

    def text(self) -> str:
        s = f"{self.rps:,.0f} req/s, p99 {self.p99_ms:.1f} ms"
        if not self.clean:
            s += f" ({self.errors} socket errors, {self.non2xx} non-2xx!)"
        return s


def run_wrk(url: str, opts: argparse.Namespace) -> Wrk:
    argv = [
        "wrk", f"-t{opts.http_threads}", f"-c{opts.http_connections}",
        f"-d{opts.http_duration}s", "--latency", "--timeout", "30s", url,
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
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
        output=out,
    )


def fetch(url: str, timeout: float = 60) -> tuple[int, Mapping[str, str], bytes]:
    """GET ``url``: status, headers (lower-case names), body. Never follows redirects."""

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
    """A server process started here: stopped by its pid (its own process group last)."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log = log
        self._fh = open(log, "wb")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,  # its workers share a group we can clean up by id
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_http(self, url: str, timeout: float = 60) -> None:
        """Wait until ``url`` answers (any status)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.popen.returncode}: {self.tail()}")
            try:
                fetch(url, timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not answer {url}: {self.tail()}") from None
                time.sleep(0.1)

    def tail(self) -> str:
        self._fh.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        # Children of a master that died (gunicorn workers, nginx workers): same group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._fh.close()


@contextlib.contextmanager
def started(proc: Proc, ready_url: str) -> Iterator[Proc]:
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
    for key in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        env.pop(key, None)  # all traffic stays on 127.0.0.1
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return {**env, **extra}


def repoversion_serve(
    base: Path, home: Path, workers: int, name: str, **settings: str
) -> tuple[Proc, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        venv_bin("repoversion"), "--home", str(home), "serve",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
    ]  # fmt: skip
    env = _env(REPOVERSION_PUBLIC_URL=url, **settings)
    return Proc(name, argv, base / f"{name}.log", env), url


def nginx(base: Path, name: str, conf_text: str) -> Proc:
    prefix = base / name
    prefix.mkdir()
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


def _user_root() -> str:
    # nginx's workers run as "nobody" when the master runs as root: they could not read
    # files under the benchmark's private (0700) temp directory and answer 403.
    return "user root;\n" if os.geteuid() == 0 else ""


def static_conf(base: Path, root: Path, port: int) -> str:
    """Bare nginx serving ``root`` as it would serve a mirror: sendfile, keep-alive."""
    prefix = base / "nginx-static"
    return f"""{_user_root()}worker_processes auto;
pid {prefix / "nginx.pid"};
events {{
    worker_connections 4096;
}}
http {{
{_temp_paths(prefix)}    types {{ }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def front_conf(base: Path, blobs: Path, app_port: int, files_port: int, port: int) -> str:
    """docker/nginx.conf adapted to loopback and scratch paths, nothing else changed.

    :raises RuntimeError: the shipped file no longer has a line this substitutes (the
        benchmark would otherwise measure something else than what docs/ recommends).
    """
    prefix = base / "nginx-front"
    text = NGINX_CONF.read_text()
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
        text, n = re.subn(pattern, lambda _m, r=repl: r, text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{NGINX_CONF} has no line matching {pattern!r} to adapt")
    if re.search(r"^\s*listen\s+(?!127\.0\.0\.1:)", text, re.M):
        raise RuntimeError(f"{NGINX_CONF} listens on an address this benchmark does not adapt")
    return _user_root() + text


# -- the version served ---------------------------------------------------------------------
@dataclass
class Served:
    home: Path
    version: str
    blobs: Path
    files: dict[str, tuple[str, str, int]]  # label → (URL path, sha256, size)


def prepare(base: Path, stack: contextlib.ExitStack) -> Served:
    """A home with the corpus (``on_demand``) and a fixture archive (``immediate``),
    synced once: version ``1.0.0`` holds both files, stored as blobs."""
    from tests.fixtures.archives import ArchiveServer, DebCache, FixtureArchive, Pkg
    from tests.fixtures.gpg import GpgKey

    corpus_xz = CORPUS / "debian" / XZ_PATH
    if not corpus_xz.is_file():
        raise RuntimeError(f"no corpus at {corpus_xz} (REPOVERSION_BENCH_CORPUS)")
    upstream = stack.enter_context(StaticServer(CORPUS))
    key = GpgKey.generate(base)
    stack.callback(key.close)
    archive = FixtureArchive(
        base / "fixture", key, name="fixture", deb_cache=DebCache(base / "debs")
    )
    pkg = Pkg(
        "bench-blob",
        "1.0-1",
        files={"usr/share/bench-blob/random.bin": os.urandom(DEB_SIZE)},
    )
    archive.add(pkg, suite=SUITE)
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
    out = json.loads(cli("sync", "--json"))
    version = str(out["repoversion"])

    from repoversion.config import load_settings

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
    for label, (path, sha, _size) in files.items():
        blob = blobs / "sha256" / sha[:2] / sha[2:]
        if not blob.is_file():
            raise RuntimeError(f"{path} ({label}) is not stored as {blob} after the sync")
    return Served(home, version, blobs, files)


def static_root(served: Served, root: Path) -> Path:
    """The same bytes at the same URL paths, as plain files (copies of the blobs)."""
    for path, sha, _size in served.files.values():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(served.blobs / "sha256" / sha[:2] / sha[2:], target)
    return root


# -- measurement ----------------------------------------------------------------------------
LABELS = {"xz": "9 MB Packages.xz", "deb": "50 KB pool .deb"}


def measure(setup: str, base_url: str, served: Served, opts: argparse.Namespace) -> dict[str, Wrk]:
    got: dict[str, Wrk] = {}
    for label, (path, sha, _size) in served.files.items():
        check_bytes(base_url + path, sha)
        w = run_wrk(base_url + path, opts)
        print(f"  {setup:<34} {LABELS[label]:<17} {w.text()}", flush=True)
        got[label] = w
    return got


def warm_front(base_url: str, served: Served) -> str:
    """Fill the proxy cache, then check that both files are cache hits."""
    statuses = []
    for path, sha, _size in served.files.values():
        for _ in range(3):
            headers = check_bytes(base_url + path, sha)
        status = headers.get("x-cache-status", "(none)")
        statuses.append(status)
        if status != "HIT":
            print(f"  warning: {path} is not a cache hit after warming: {status}", flush=True)
    return ", ".join(statuses)


def profile(proc: Proc, url: str, opts: argparse.Namespace, base: Path, label: str) -> str | None:
    """py-spy the gunicorn workers while wrk runs; the hottest functions as text."""
    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        pyspy_path = shutil.which("py-spy")
        if pyspy_path is None:
            return None
        pyspy = Path(pyspy_path)
    out = base / f"profile-{label}.txt"
    seconds = max(4, opts.http_duration)
    spy = subprocess.Popen(
        [str(pyspy), "record", "--pid", str(proc.pid), "--subprocesses", "--format", "raw",
         "--rate", "200", "--duration", str(seconds), "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1)
        run_wrk(url, opts)
        spy.wait(seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if not out.exists():
        return "(py-spy wrote nothing)"
    return _summarise_raw(out.read_text())


def _summarise_raw(text: str, top: int = 25) -> str:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (", 1)[0] + " (" + f.split(" (", 1)[1].split(":")[0].rsplit("/", 1)[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")[1:]
        ]
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return "(no samples)"
    rows = [
        [f"{100 * own.get(f, 0) / total:5.1f} %", f"{100 * n / total:5.1f} %", f]
        for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]
    ]
    buf = [f"{total} samples (all threads of all workers, idle ones included)"]
    import io

    s = io.StringIO()
    print_table(["self", "inclusive", "function (file)"], rows, out=s)
    return "\n".join(buf) + "\n" + s.getvalue()


def run(opts: argparse.Namespace) -> list[Row]:
    for tool in ("wrk", "nginx", "gpg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    from repoversion.config import load_settings

    B = "http"
    rows: list[Row] = []
    load_before = os.getloadavg()
    with scratch("rv-bench-http-") as base, contextlib.ExitStack() as stack:
        with timed() as t_prep:
            served = prepare(base, stack)
        workers = opts.http_workers or load_settings(served.home, environ=_env()).workers
        print(
            f"version {served.version} synced in {fmt_s(t_prep[0])}: "
            + ", ".join(f"{p} ({s:,} bytes)" for p, _h, s in served.files.values()),
            flush=True,
        )
        wrk_args = (
            f"wrk -t{opts.http_threads} -c{opts.http_connections} -d{opts.http_duration}s --latency"
        )
        print(f"{wrk_args}; repoversion serve --workers {workers}", flush=True)

        results: dict[str, dict[str, Wrk]] = {}
        profiles: dict[str, str | None] = {}

        # 1. repoversion serve alone
        proc, url = repoversion_serve(base, served.home, workers, "serve-alone")
        with started(proc, url + "/healthz"):
            results["alone"] = measure("repoversion serve alone", url, served, opts)

        # 2. nginx static
        port = free_port()
        root = static_root(served, base / "static")
        ng = nginx(base, "nginx-static", static_conf(base, root, port))
        static_url = f"http://127.0.0.1:{port}"
        with started(ng, static_url + "/"):
            results["nginx"] = measure("nginx static", static_url, served, opts)

        # 3. nginx front (docker/nginx.conf) → repoversion with X-Accel-Redirect
        app, app_url = repoversion_serve(
            base, served.home, workers, "serve-behind-nginx", REPOVERSION_X_ACCEL_REDIRECT="/_blobs"
        )
        with started(app, app_url + "/healthz"):
            files_port, front_port = free_port(), free_port()
            conf = front_conf(base, served.blobs, int(app_url.rsplit(":", 1)[1]), files_port,
                              front_port)  # fmt: skip
            ng = nginx(base, "nginx-front", conf)
            front_url = f"http://127.0.0.1:{front_port}"
            with started(ng, front_url + "/healthz"):
                for path, _sha, _size in served.files.values():
                    status, headers, _ = fetch(app_url + path)
                    if "x-accel-redirect" not in headers:
                        print(f"  warning: {path}: no X-Accel-Redirect from the app", flush=True)
                cache = warm_front(front_url, served)
                results["front"] = measure("nginx front (cache hits)", front_url, served, opts)
                files_url = f"http://127.0.0.1:{files_port}"
                results["accel"] = measure(
                    "nginx X-Accel only (cache misses)", files_url, served, opts
                )

        # profiles of repoversion alone where it misses a target
        alone, bare = results["alone"], results["nginx"]
        missed = {
            "xz": alone["xz"].rps < ALONE_XZ_RATIO_MIN * bare["xz"].rps,
            "deb": alone["deb"].rps < ALONE_DEB_RPS_MIN
            or alone["deb"].p99_ms >= ALONE_DEB_P99_MAX_MS,
        }
        if opts.http_profile == "always":
            missed = dict.fromkeys(missed, True)
        elif opts.http_profile == "never":
            missed = dict.fromkeys(missed, False)
        if any(missed.values()):
            proc, url = repoversion_serve(base, served.home, workers, "serve-profiled")
            with started(proc, url + "/healthz"):
                for label, want in missed.items():
                    if want:
                        path = served.files[label][0]
                        profiles[label] = profile(proc, url + path, opts, base, label)
            for label, text in profiles.items():
                print(f"--- py-spy of repoversion serve alone, {LABELS[label]} under wrk:")
                print(text or "(py-spy is not installed: .venv/bin/pip install py-spy)", flush=True)

    load_after = os.getloadavg()
    front, accel = results["front"], results["accel"]

    def ratio(a: Wrk, b: Wrk) -> float:
        return a.rps / b.rps if b.rps else 0.0

    rows.append(Row(B, "wrk on loopback", f"{wrk_args}, --timeout 30s"))
    rows.append(Row(B, "repoversion serve workers", f"{workers} (gthread, 4 threads each)"))
    rows.append(
        Row(B, "load average before / after", f"{load_before[0]:.2f} / {load_after[0]:.2f}")
    )
    for label in ("xz", "deb"):
        name = LABELS[label]
        a, n, f, x = alone[label], bare[label], front[label], accel[label]
        rows.append(Row(B, f"{name}: nginx static", n.text()))
        r = ratio(a, n)
        rows.append(Row(B, f"{name}: repoversion alone", a.text() + f" ({r:.2f} of nginx)"))
        if label == "xz":
            rows.append(Row(B, f"{name}: repoversion alone / nginx", f"{r:.2f}",
                            f">= {ALONE_XZ_RATIO_MIN}", r >= ALONE_XZ_RATIO_MIN and a.clean))  # fmt: skip
        else:
            rows.append(Row(B, f"{name}: repoversion alone req/s", f"{a.rps:,.0f}",
                            f">= {ALONE_DEB_RPS_MIN:,.0f}", a.rps >= ALONE_DEB_RPS_MIN and a.clean))  # fmt: skip
            rows.append(Row(B, f"{name}: repoversion alone p99", f"{a.p99_ms:.1f} ms",
                            f"< {ALONE_DEB_P99_MAX_MS:.0f} ms", a.p99_ms < ALONE_DEB_P99_MAX_MS))  # fmt: skip
        rf = ratio(f, n)
        rows.append(Row(B, f"{name}: nginx front (cache hit)", f.text() + f" ({rf:.2f} of nginx)"))
        rows.append(Row(B, f"{name}: nginx front / nginx", f"{rf:.2f}",
                        f">= {FRONT_RATIO_MIN}", rf >= FRONT_RATIO_MIN and f.clean))  # fmt: skip
        rows.append(Row(B, f"{name}: X-Accel-Redirect only (miss)",
                        x.text() + f" ({ratio(x, n):.2f} of nginx)"))  # fmt: skip
    rows.append(Row(B, "front cache status after warming", cache))
    return rows
