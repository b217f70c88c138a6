"""``repoversion serve``: the web application under gunicorn."""

from __future__ import annotations

from typing import Any

import click

from repoversion import actions, metrics
from repoversion.cli.common import Obj, pass_obj
from repoversion.config import Settings
from repoversion.errors import InvalidInput

# --------------------------------------------------------------------------- gunicorn


def run_gunicorn(settings: Settings, bind: str, workers: int) -> None:
    """Serve ``create_app(settings)`` under gunicorn until it is told to stop.

    :raises InvalidInput: ``fetch_waiters`` leaves no thread for other requests.
    """
    from gunicorn.app.base import BaseApplication

    from repoversion.web import create_app
    from repoversion.web.apt import EXTENSION

    def worker_exit(_server: Any, gunicorn_worker: Any) -> None:
        # gunicorn workers leave through os._exit: atexit handlers (the signer's gpg-agent
        # clean-up) would not run.
        app = getattr(gunicorn_worker, "wsgi", None)
        extensions = getattr(app, "extensions", {})
        serving = extensions.get(EXTENSION)
        if serving is not None:  # its downloader threads would hold the exit back
            serving.close()
        ctx = extensions.get("repoversion")
        if ctx is not None:
            ctx.close()

    hooks = _embedded_worker_hooks(settings) if settings.embedded_worker else {}
    hooks["child_exit"] = _child_exit

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, hook in hooks.items():
                self.cfg.set(name, hook)
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            # Most threads wait (on sendfile, on a download): they cost memory, not CPU.
            # fetch_waiters < threads keeps some free for everything else (docs/serving.md).
            self.cfg.set("threads", settings.threads)
            # One listening socket per worker: the kernel spreads keep-alive connections,
            # where a shared socket lets one worker take them all (make bench, 50 KB files).
            self.cfg.set("reuse_port", True)
            self.cfg.set("keepalive", 30)
            self.cfg.set("timeout", 300)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())
            self.cfg.set("worker_exit", worker_exit)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 25 would otherwise share one ~/.gunicorn/gunicorn.ctl between
                # every server this user runs.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return create_app(settings)

    _check_threads(settings)
    # every worker and the embedded job worker count into this run's directory, which
    # /metrics sums (repoversion.metrics)
    with metrics.multiprocess_run(settings.home / "run"):
        App().run()


def _child_exit(_server: Any, gunicorn_worker: Any) -> None:
    """In gunicorn's master, when a worker has exited: its live gauges go."""
    metrics.mark_dead(gunicorn_worker.pid)


def _check_threads(settings: Settings) -> None:
    """:raises InvalidInput: requests waiting for upstream could take every thread."""
    if settings.fetch_waiters >= settings.threads:
        raise InvalidInput(
            f"fetch_waiters ({settings.fetch_waiters}) must be smaller than threads "
            f"({settings.threads}), or requests waiting for upstream take every thread."
        )


def _embedded_worker_hooks(settings: Settings) -> dict[str, Any]:
    """gunicorn hooks running one job worker beside the server (docs/jobs.md): spawned
    once gunicorn is ready, stopped when it exits."""
    from repoversion.jobs.embedded import EmbeddedWorker

    embedded = EmbeddedWorker(settings)

    def when_ready(_server: Any) -> None:
        embedded.start()

    def on_exit(_server: Any) -> None:
        embedded.stop()

    return {"when_ready": when_ready, "on_exit": on_exit}


def _check_bind(bind: str) -> None:
    """:raises InvalidInput: not ``HOST:PORT`` (one sentence, not a gunicorn traceback)."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--bind must be HOST:PORT, got {bind!r}.")


@click.command()
@click.option("--bind", default=None, help="HOST:PORT (default: the bind setting, 127.0.0.1:8080).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the workers setting, the number of cores, at least 2).",
)
@pass_obj
def serve(obj: Obj, bind: str | None, workers: int | None) -> None:
    """Serve the apt views, the API and the ostree repository."""
    settings = obj.settings
    if bind is not None:
        _check_bind(bind)
    obj.ctx.sessions  # noqa: B018 - refuse to start on a missing or outdated schema
    actions.sweep_leftovers(obj.ctx)
    obj.close()  # gunicorn's workers open their own connections
    run_gunicorn(settings, bind or settings.bind, workers or settings.workers)


COMMANDS = [serve]
