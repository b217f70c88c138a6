"""docker/nginx.conf adapted to loopback, and the access logs it then writes.

:func:`nginx_conf` changes only addresses and paths: the upstream's one name becomes a
``server`` line per node (compose's ``server`` name resolves to every replica), the
listening ports are free loopback ports, the pid file, error log, cache and temporary
directories are in a scratch prefix, the ``/_blobs/`` alias is the store's directory. It
adds an access log to each server block (the shipped file logs nothing), whose lines
:func:`access_log` reads.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "docker" / "nginx.conf"
#: access log lines: when the answer left (epoch seconds), status, cache status, the URI
#: asked for and the URI that answered (``/_blobs/…`` after an ``X-Accel-Redirect``)
LOG_FORMAT = "log_format deploy '$msec $status $upstream_cache_status $request_uri $uri';"


def _temp_paths(prefix: Path) -> str:
    """nginx's temporary directories in the scratch prefix, not the compiled-in ones."""
    return "".join(
        f"    {kind}_temp_path {prefix / (kind + '_temp')};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )


def nginx_conf(
    prefix: Path, node_ports: list[int], files_port: int, front_port: int, blobs: Path
) -> str:
    """docker/nginx.conf with loopback addresses and scratch paths, an access log per
    server block, and nothing else changed.

    :param blobs: the filesystem store's directory (the ``/_blobs/`` alias).
    :raises RuntimeError: the file lacks a line this adapts (the test would exercise
        something else than what is shipped).
    """
    servers = "\n        ".join(f"server 127.0.0.1:{port};" for port in node_ports)
    front_log, files_log = prefix / "front.log", prefix / "files.log"
    subs = [
        (r"^pid [^;]+;", f"pid {prefix / 'nginx.pid'};"),
        (r"^error_log [^;]+;", f"error_log {prefix / 'error.log'} warn;"),
        (r"proxy_cache_path /var/cache/nginx/repoversion ", f"proxy_cache_path {prefix}/cache "),
        (r"server server:8080;", servers),  # compose: one name for every replica
        (r"server 127\.0\.0\.1:8081;", f"server 127.0.0.1:{files_port};"),
        (
            r"listen 127\.0\.0\.1:8081;",
            f"listen 127.0.0.1:{files_port};\n        access_log {files_log} deploy;",
        ),
        (r"listen 80;", f"listen 127.0.0.1:{front_port};\n        access_log {front_log} deploy;"),
        (r"alias /var/lib/repoversion/blobs/;", f"alias {blobs}/;"),
        (r"^http \{\n", "http {\n" + _temp_paths(prefix) + f"    {LOG_FORMAT}\n"),
    ]
    text = NGINX_CONF.read_text()
    for pattern, repl in subs:
        text, n = re.subn(pattern, repl.replace("\\", r"\\"), text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError(f"{NGINX_CONF} has no line matching {pattern!r} to adapt")
    if os.geteuid() == 0:  # its workers would run as nobody, who cannot read scratch dirs
        text = "user root;\n" + text
    return text


def access_log(path: Path) -> list[tuple[float, int, str, str, str]]:
    """The lines of an access log written with :data:`LOG_FORMAT`: (time, status, cache
    status, URI asked for, URI that answered)."""
    rows = []
    for line in path.read_text().splitlines():
        at, status, cache, asked, answered = line.split(" ", 4)
        rows.append((float(at), int(status), cache, asked, answered))
    return rows
