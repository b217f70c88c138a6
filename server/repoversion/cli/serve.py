"""``repoversion serve``: the web application under gunicorn."""

from __future__ import annotations

from typing import Any

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.config import Settings
from repoversion.errors import InvalidInput

# --------------------------------------------------------------------------- gunicorn


def run_gunicorn(settings: Settings, bind: str, workers: int) -> None:
    """Serve ``create_app(settings)`` under gunicorn until it is told to stop."""
    from gunicorn.app.base import BaseApplication

    from repoversion.web import create_app

    def worker_exit(_server: Any, gunicorn_worker: Any) -> None:
        # gunicorn workers leave through os._exit: atexit handlers (the signer's gpg-agent
        # clean-up) would not run.
        app = getattr(gunicorn_worker, "wsgi", None)
        ctx = getattr(app, "extensions", {}).get("repoversion")
        if ctx is not None:
            ctx.close()

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
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

    App().run()


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
    obj.close()  # gunicorn's workers open their own connections
    run_gunicorn(settings, bind or settings.bind, workers or settings.workers)


COMMANDS = [serve]
