"""``repoversion serve`` (gunicorn) and ``repoversion run`` (what `make run` does)."""

from __future__ import annotations

from typing import Any

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.config import Settings


def run_gunicorn(settings: Settings, bind: str, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from repoversion.web import create_app

    class App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("keepalive", 30)
            self.cfg.set("timeout", 300)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", settings.log_level.lower())

        def load(self) -> Any:
            return create_app(settings)

    App().run()


@click.command()
@click.option("--bind", default=None, help="HOST:PORT (default 127.0.0.1:8080).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default 2 x cores + 1).",
)
@pass_obj
def serve(obj: Obj, bind: str | None, workers: int | None) -> None:
    """Serve the apt views, the API and the ostree repository."""
    settings = obj.settings
    obj.ctx.sessions  # noqa: B018 - refuse to start on a missing or outdated schema
    run_gunicorn(settings, bind or settings.bind, workers or settings.workers)


@click.command()
@pass_obj
def run(obj: Obj) -> None:
    """Initialise the home if needed, then serve (what `make run` does)."""
    from repoversion.home import initialise

    settings = obj.settings
    result = initialise(settings)
    click.echo(f"Home {result.home} ready; signing key {result.fingerprint}.", err=True)
    click.echo(
        f"Serving on http://{settings.bind}/ (public key at "
        f"{settings.public_url}/keys/repoversion.asc)",
        err=True,
    )
    run_gunicorn(settings, settings.bind, settings.workers)


COMMANDS = [serve, run]
