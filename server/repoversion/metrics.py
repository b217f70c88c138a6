"""Prometheus metrics: what each process counts, and the text ``/metrics`` answers.

Under ``repoversion serve`` the gunicorn workers and the embedded job worker are separate
processes, so they count with prometheus_client's multiprocess mode: ``serve`` makes a
directory for the run (:func:`multiprocess_run`, ``<home>/run/prometheus/<host>-<pid>``),
names it in ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, and removes it when
it stops. Each process writes its counts to memory-mapped files there, gunicorn's
``child_exit`` hook calls :func:`mark_dead` for a worker that left, and whichever worker
answers a scrape sums every file, so counts of workers that exited stay in the totals.
A process without that variable (a test's in-process server, a command) counts in its own
memory. The library is imported on first use, so the variable is always set before.

Gauges describing the shared database (versions kept, the job queue, the blob store)
are counted by no process: the caller of :func:`exposition` computes them at scrape time,
so every node reports the same values.

>>> count("repoversion_fetch_failures_total", reason="bad_upstream")
>>> text = exposition([Gauge("repoversion_versions", "Kept repoversions.", 3)]).decode()
>>> "repoversion_versions 3.0" in text and 'reason="bad_upstream"} ' in text
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repoversion.pids import alive

log = logging.getLogger(__name__)

#: the variable prometheus_client's multiprocess mode reads
ENV = "PROMETHEUS_MULTIPROC_DIR"
#: the text format ``/metrics`` answers with
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: a sync takes seconds on a small mirror and many minutes on a first full one
SYNC_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))


@dataclass(frozen=True)
class Gauge:
    """One sample of a gauge computed at scrape time."""

    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


class _Instruments:
    """The counters and histograms of this process (built once, on first use)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # In multiprocess mode the values live in files and a scrape reads those; the
        # objects are then registered nowhere (a registry would show this process only).
        self.registry = None if os.environ.get(ENV) else CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "repoversion_http_requests",
            "HTTP responses, by route (the URL rule, not the path), method and status.",
            ["route", "method", "status"],
            registry=reg,
        )
        self.sync_duration = Histogram(
            "repoversion_sync_duration_seconds",
            "Syncs run by this server's job worker, by result (new, unchanged, failed).",
            ["result"],
            buckets=SYNC_BUCKETS,
            registry=reg,
        )
        counters = {
            "repoversion_http_response_bytes": ("Bytes of response bodies served.", ()),
            "repoversion_fetch_downloads": ("Files fetched through from upstream.", ()),
            "repoversion_fetch_download_bytes": ("Bytes fetched through from upstream.", ()),
            "repoversion_fetch_failures": ("Failed fetch-throughs, by reason.", ("reason",)),
        }
        self.counters = {
            f"{name}_total": Counter(name, text, labels, registry=reg)
            for name, (text, labels) in counters.items()
        }


_built: list[_Instruments] = []
_building = threading.Lock()


def _instruments() -> _Instruments:
    """This process's instruments, built by the first caller (only once: two objects
    of one metric would overwrite each other's counts in the shared files)."""
    if _built:
        return _built[0]
    with _building:
        if not _built:
            from prometheus_client import disable_created_metrics

            # ``_created`` samples exist in one mode only; leave them out in both
            disable_created_metrics()
            _built.append(_Instruments())
        return _built[0]


def count(name: str, value: float = 1, **labels: str) -> None:
    """Add ``value`` to the counter ``name`` (its exposed name, ``…_total``).

    :param name: e.g. ``repoversion_fetch_failures_total``.
    :param labels: its label values, if it has labels.
    :raises KeyError: no such counter.
    """
    counter = _instruments().counters[name]
    with _not_failing():
        (counter.labels(**labels) if labels else counter).inc(value)


def count_response(route: str, method: str, status: int, sent: int) -> None:
    """Count one HTTP response and the body bytes it sent.

    :param route: the Flask URL rule that matched (``unmatched`` when none did).
    """
    m = _instruments()
    with _not_failing():
        m.requests.labels(route=route, method=method, status=str(status)).inc()
        if sent:
            m.counters["repoversion_http_response_bytes_total"].inc(sent)


@contextlib.contextmanager
def _not_failing() -> Iterator[None]:
    """A count that cannot be written (a full disk under the run directory) is lost,
    logged, and fails no request."""
    try:
        yield
    except OSError as exc:
        log.warning("a metric could not be counted: %s", exc)


@contextlib.contextmanager
def timed_sync() -> Iterator[dict[str, str]]:
    """Time a sync; the caller sets ``["result"]`` (``new``/``unchanged``) when it ends
    well, and an exception counts it as ``failed``."""
    outcome = {"result": "failed"}
    start = time.monotonic()
    try:
        yield outcome
    except BaseException:
        outcome["result"] = "failed"
        raise
    finally:
        hist = _instruments().sync_duration.labels(result=outcome["result"])
        hist.observe(time.monotonic() - start)


def exposition(gauges: Iterable[Gauge] = ()) -> bytes:
    """The text format of every process's counts (all of this run's processes in
    multiprocess mode) plus ``gauges``."""
    from prometheus_client import CollectorRegistry, generate_latest

    instruments = _instruments()
    registry = CollectorRegistry()
    directory = os.environ.get(ENV)
    if directory:
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry, directory)
    else:
        assert instruments.registry is not None
        registry.register(_Delegate(instruments.registry))
    registry.register(_Snapshot(list(gauges)))
    return generate_latest(registry)


class _Delegate:
    """Collects what another registry holds (this process's own counts)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def collect(self) -> Iterator[Any]:
        yield from self.source.collect()


class _Snapshot:
    """Collects gauges computed by the caller, grouped into one family per name."""

    def __init__(self, gauges: list[Gauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, Any] = {}
        for g in self.gauges:
            family = families.get(g.name)
            if family is None:
                family = GaugeMetricFamily(g.name, g.help, labels=sorted(g.labels))
                families[g.name] = family
            family.add_metric([g.labels[k] for k in sorted(g.labels)], g.value)
        yield from families.values()


# -- one directory per server run ----------------------------------------------------------


@contextlib.contextmanager
def multiprocess_run(run_dir: Path) -> Iterator[Path]:
    """Count in multiprocess mode, in a new directory under ``run_dir``, for the ``with``
    block; directories of earlier runs of this host whose process is gone are removed.

    Processes forked or spawned inside the block (gunicorn's workers, the embedded job
    worker) inherit the variable; only the process that entered the block cleans up (a
    gunicorn worker leaves through the same stack, by ``SystemExit``).
    """
    parent = run_dir / "prometheus"
    _remove_dead_runs(parent)
    owner = os.getpid()
    directory = parent / f"{socket.gethostname()}-{owner}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(directory)
    _choose_value_class()
    try:
        yield directory
    finally:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)
            if previous is None:
                os.environ.pop(ENV, None)
            else:
                os.environ[ENV] = previous
            _choose_value_class()


def mark_dead(pid: int) -> None:
    """gunicorn's ``child_exit``: drop the live gauges of worker ``pid`` (its counters
    stay in the sums)."""
    directory = os.environ.get(ENV)
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)


def _choose_value_class() -> None:
    """prometheus_client picks in-memory or file-backed values when first imported: pick
    again if it was imported before the variable changed, and build this process's
    instruments anew on their next use (what they counted so far stays in memory)."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]
    with _building:
        _built.clear()


def _remove_dead_runs(parent: Path) -> None:
    host = socket.gethostname()
    if not parent.is_dir():
        return
    for path in parent.iterdir():
        name, _, pid = path.name.rpartition("-")
        if name == host and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
