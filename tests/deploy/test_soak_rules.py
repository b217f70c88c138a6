"""The rules the soak (``make soak``) judges by, and the nginx adaptation it and
tests/deploy share, checked on their own: the soak itself is too long for ``make test``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy import nginx
from tests.soak.traffic import parse_wrk, read_front_log

WRK_OUTPUT = """Running 1m test @ http://127.0.0.1:4000
  2 threads and 64 connections
  Latency Distribution
     50%  192.10ms
     75%  300.00ms
     90%  500.00ms
     99%    1.04s
  22260 requests in 1.00m, 1.2GB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 753
Requests/sec:    371.00
Transfer/sec:     20.00MB
"""


def test_wrk_summary_is_read() -> None:
    wrk = parse_wrk(WRK_OUTPUT)
    assert (wrk.requests, wrk.rps, wrk.non2xx) == (22260, 371.0, 753)
    assert (wrk.p50_ms, wrk.p99_ms) == (192.1, 1040.0)
    assert wrk.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 5}
    with pytest.raises(RuntimeError, match="cannot read"):
        parse_wrk("wrk: connection refused\n")


def test_failures_are_judged_against_the_restart_window(tmp_path: Path) -> None:
    log = tmp_path / "front.log"
    lines = [
        (89.0, 500, "/before/the/load"),
        (95.0, 502, "/early"),  # a 5xx before the restart: outside the window
        (100.5, 503, "/v/stable/x"),  # inside: excused
        (101.9, 200, "/v/1.0.0/x"),
        (105.0, 404, "/v/1.0.0/missing"),  # after the window: a failed request
        (110.0, 499, "/v/stable/slow"),  # the client gave up well before the end
        (119.5, 499, "/v/stable/y"),  # wrk closing at its end: no failure
        (140.0, 500, "/after/the/load"),
    ]
    log.write_text("".join(f"{t} {s} - {u} {u}\n" for t, s, u in lines))
    seen = read_front_log(log, start=90, end=120, window=(100, 102))
    assert seen.total == 6 and seen.statuses[499] == 2
    assert seen.in_window_5xx == 1
    assert seen.outside_5xx == [(95.0, 502, "/early")]
    assert seen.failed_after == [(105.0, 404, "/v/1.0.0/missing"), (110.0, 499, "/v/stable/slow")]


def test_the_shipped_config_adapted_to_loopback_is_valid(tmp_path: Path) -> None:
    conf = nginx.nginx_conf(tmp_path, [4001, 4002], 4003, 4004, tmp_path / "blobs")
    assert re.findall(r"^\s*listen ([^;]+);", conf, re.M) == ["127.0.0.1:4003", "127.0.0.1:4004"]
    assert "server 127.0.0.1:4001;" in conf and "server 127.0.0.1:4002;" in conf
    assert f"alias {tmp_path}/blobs/;" in conf and "server:8080" not in conf
    shipped = nginx.NGINX_CONF.read_text()
    assert "X-Accel-Redirect" in shipped and "proxy_cache repoversion;" in conf
    (tmp_path / "nginx.conf").write_text(conf)
    checked = subprocess.run(
        ["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
         "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_a_config_missing_a_line_to_adapt_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tmp_path / "changed.conf"
    changed.write_text(nginx.NGINX_CONF.read_text().replace("listen 80;", "listen 8000;"))
    monkeypatch.setattr(nginx, "NGINX_CONF", changed)
    with pytest.raises(RuntimeError, match="listen 80"):
        nginx.nginx_conf(tmp_path, [4001], 4003, 4004, tmp_path / "blobs")
