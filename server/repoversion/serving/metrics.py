"""Prometheus counters that add up across the worker processes of one machine.

Each process counts in memory and, at most once a second (and a second after its last
count, from a timer thread, so an idle worker's counts still show), writes its totals to
``<dir>/<host>-<pid>-<start>.json``. ``/metrics`` sums every file, so whichever worker
answers the scrape reports the whole server. Files of processes that have exited are
folded into ``retired.json`` so totals never go backwards.

>>> import tempfile, pathlib
>>> m = Metrics(pathlib.Path(tempfile.mkdtemp()))
>>> m.inc("repoversion_http_requests_total", status="200")
>>> "repoversion_http_requests_total{status=\\"200\\"} 1" in m.render({})
True
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from repoversion.pids import alive
from repoversion.serving.locks import file_lock

Key = tuple[str, tuple[tuple[str, str], ...]]

HELP = {
    "repoversion_http_requests_total": ("counter", "HTTP responses, by status."),
    "repoversion_http_response_bytes_total": ("counter", "Bytes of file bodies served."),
    "repoversion_fetch_downloads_total": ("counter", "Files fetched through from upstream."),
    "repoversion_fetch_download_bytes_total": ("counter", "Bytes fetched through from upstream."),
    "repoversion_fetch_failures_total": ("counter", "Failed fetch-throughs, by reason."),
    "repoversion_versions": ("gauge", "Kept (not deleted) repoversions."),
}


class Metrics:
    """Counters of this process, shared through files in ``directory``.

    :param directory: where each process publishes its totals.
    :param flush_every: seconds between two writes of this process's file.
    """

    def __init__(self, directory: Path, flush_every: float = 1.0) -> None:
        self.directory = directory
        self.flush_every = flush_every
        self._lock = threading.Lock()
        self._counts: dict[Key, float] = {}
        self._pid = 0
        self._file: Path | None = None
        self._last = 0.0
        self._timer: threading.Timer | None = None

    def inc(self, name: str, value: float = 1, **labels: str) -> None:
        """Add ``value`` to counter ``name`` with ``labels``; publish if a second passed.

        :param name: the metric's name.
        :param value: the increment.
        :param labels: label values.
        """
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._own()
            self._counts[key] = self._counts.get(key, 0) + value
            due = time.monotonic() - self._last >= self.flush_every
            if not due and self._timer is None:
                self._timer = threading.Timer(self.flush_every, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def _own(self) -> None:
        """Start from zero in a forked child: its parent's counts are the parent's."""
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._counts = {}
            self._timer = None
            stamp = int(time.time() * 1000)
            self._file = self.directory / f"{socket.gethostname()}-{pid}-{stamp}.json"

    def flush(self) -> None:
        """Publish this process's totals now."""
        with self._lock:
            self._own()
            self._last = time.monotonic()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            data = [[n, dict(labels), v] for (n, labels), v in self._counts.items()]
            target = self._file
        assert target is not None
        with contextlib.suppress(OSError):
            _write_json(target, data)

    def collect(self) -> dict[Key, float]:
        """The totals of every process of this machine (and of exited ones)."""
        self.flush()
        totals: dict[Key, float] = {}
        host = socket.gethostname()
        with file_lock(self.directory / ".lock"):
            retired = self.directory / "retired.json"
            folded = _read(retired)
            changed = False
            for path in sorted(self.directory.glob("*.json")):
                if path == retired:
                    continue
                counts = _read(path)
                if path.name.startswith(host + "-") and not _alive(path.name[len(host) + 1 :]):
                    _add(folded, counts)
                    path.unlink(missing_ok=True)
                    changed = True
                else:
                    _add(totals, counts)
            if changed:
                _write_json(retired, [[n, dict(lb), v] for (n, lb), v in folded.items()])
        _add(totals, folded)
        return totals

    def render(self, gauges: Mapping[str, float]) -> str:
        """The Prometheus text exposition of every counter plus ``gauges``.

        :param gauges: metric name → value, computed at scrape time.
        """
        totals = self.collect()
        for name, value in gauges.items():
            totals[(name, ())] = value
        names = sorted({n for n, _ in totals} | set(HELP))
        out: list[str] = []
        for name in names:
            kind, text = HELP.get(name, ("untyped", name))
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            for (n, labels), value in sorted(totals.items()):
                if n == name:
                    out.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(out) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels
    )
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _alive(rest: str) -> bool:
    try:
        pid = int(rest.split("-", 1)[0])
    except ValueError:
        return True
    return pid == os.getpid() or alive(pid)


def _read(path: Path) -> dict[Key, float]:
    try:
        rows = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    out: dict[Key, float] = {}
    for name, labels, value in rows:
        key = (name, tuple(sorted(labels.items())))
        out[key] = out.get(key, 0) + value
    return out


def _add(into: dict[Key, float], more: Mapping[Key, float]) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)
