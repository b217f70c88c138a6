"""The soak's load and what it saw: ``wrk`` over a list of URLs, in the background, and
nginx's access log read request by request (when each answer left, its status).

wrk says how many requests it made and how many failed at the socket (connect, read,
write, timeout); nginx's log says when each answer left and with which status, which is
what "no 5xx outside the restart window" needs.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.nginx import access_log

LUA = Path(__file__).with_name("mixed.lua")
#: nginx logs 499 when the client closed first: wrk does so with requests in flight when
#: its time is up, which is no failure; a 499 earlier than this before the end is one
CLOSING_SLACK = 1.0
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Wrk:
    """What ``wrk --latency`` printed."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: dict[str, int]
    non2xx: int
    output: str


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if m is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(m[1]) * _UNITS[m[2]]


def parse_wrk(out: str) -> Wrk:
    """:raises RuntimeError: the output lacks wrk's summary."""
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (total and rps and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    counts = [int(x) for x in sock.groups()] if sock else [0, 0, 0, 0]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Wrk(
        requests=int(total[1]),
        rps=float(rps[1]),
        p50_ms=_ms(p50[1]),
        p99_ms=_ms(p99[1]),
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), counts, strict=True)),
        non2xx=int(non2xx[1]) if non2xx else 0,
        output=out,
    )


class Load:
    """``wrk -t2 -cC -dS --latency -s mixed.lua FRONT -- URLS`` in the background."""

    def __init__(self, front: str, urls: Path, seconds: int, connections: int) -> None:
        argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                "--timeout", "30s", "-s", str(LUA), front, "--", str(urls)]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def result(self, timeout: float) -> Wrk:
        """Wait for wrk to end and read its summary.

        :raises RuntimeError: wrk failed.
        """
        out, err = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"wrk exited {self.proc.returncode}: {err.strip()}")
        return parse_wrk(out)

    def stop(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.communicate()


@dataclass
class Seen:
    """The front's answers between the start and the end of the load."""

    statuses: Counter[int] = field(default_factory=Counter)
    in_window_5xx: int = 0
    outside_5xx: list[tuple[float, int, str]] = field(default_factory=list)
    failed_after: list[tuple[float, int, str]] = field(default_factory=list)
    cache: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


def _failed(at: float, status: int, end: float) -> bool:
    if status == 499:
        return at < end - CLOSING_SLACK
    return status >= 400


def read_front_log(log: Path, start: float, end: float, window: tuple[float, float]) -> Seen:
    """What nginx answered from ``start`` to ``end`` (wall-clock seconds), judged against
    the restart ``window`` (first and last second in which failures are excused)."""
    seen = Seen()
    for at, status, cache, asked, _answered in access_log(log):
        if not start <= at <= end + CLOSING_SLACK:
            continue
        seen.statuses[status] += 1
        seen.cache[cache] += 1
        inside = window[0] <= at <= window[1]
        if status >= 500 and inside:
            seen.in_window_5xx += 1
        elif status >= 500:
            seen.outside_5xx.append((at, status, asked))
        if at > window[1] and _failed(at, status, end):
            seen.failed_after.append((at, status, asked))
    return seen
