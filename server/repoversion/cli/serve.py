"""``repoversion serve`` (gunicorn) and ``repoversion run`` (what ``make run`` does).

``run`` is the whole first experience on a fresh Debian or Ubuntu machine:

1. initialise the home (settings file, schema, signing key) if needed;
2. with no archive configured, add the archives this machine's apt sources use
   (``init --from-system``, policy ``on_demand``);
3. sync once, with a progress bar on a terminal; if that fails (offline, say), say why
   in one sentence and serve what is already mirrored;
4. print on stdout the ``deb`` lines and the key command a user pastes into another
   machine, for the newest version;
5. serve under gunicorn, like ``serve``.

Both start an embedded job worker (setting ``embedded_worker``) when the
:data:`WORKER_TARGET` module exists: a separate process spawned once gunicorn has bound
its socket and stopped when gunicorn exits.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import multiprocessing
import sys
from typing import Any
from urllib.parse import urlsplit

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.config import Settings
from repoversion.errors import InvalidInput, RepoversionError

log = logging.getLogger(__name__)

#: ``module:function`` run by the embedded worker as ``function(settings)``; it returns
#: (or the process ends) on SIGTERM. Provided by the jobs feature.
WORKER_TARGET = "repoversion.worker:run_worker"


# --------------------------------------------------------------------------- worker


def _worker_main(target: str, settings: Settings) -> None:
    module, _, func = target.partition(":")
    getattr(importlib.import_module(module), func)(settings)


class EmbeddedWorker:
    """The job worker ``serve`` runs beside gunicorn, in its own (spawned) process, so
    gunicorn's forks never copy a thread holding a lock.

    :param target: ``module:function`` called as ``function(settings)`` in the child.
    """

    def __init__(self, settings: Settings, target: str = WORKER_TARGET) -> None:
        self.settings = settings
        self.target = target
        self.process: multiprocessing.process.BaseProcess | None = None

    @classmethod
    def wanted(cls, settings: Settings, target: str = WORKER_TARGET) -> EmbeddedWorker | None:
        """An embedded worker if the setting asks for one and the worker module exists."""
        if not settings.embedded_worker:
            return None
        module = target.partition(":")[0]
        try:
            if importlib.util.find_spec(module) is None:
                return None
        except ModuleNotFoundError:
            return None
        return cls(settings, target)

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.process = ctx.Process(
            target=_worker_main,
            args=(self.target, self.settings),
            name="repoversion-worker",
            daemon=True,
        )
        self.process.start()
        log.info("embedded job worker started (pid %s)", self.process.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc, self.process = self.process, None
        if proc is None or proc.pid is None:
            return
        proc.terminate()
        proc.join(timeout)
        if proc.exitcode is None:
            proc.kill()
            proc.join(timeout)


# --------------------------------------------------------------------------- gunicorn


def run_gunicorn(
    settings: Settings, bind: str, workers: int, worker: EmbeddedWorker | None = None
) -> None:
    """Serve ``create_app(settings)`` under gunicorn until it is told to stop."""
    from gunicorn.app.base import BaseApplication

    from repoversion.web import create_app

    def when_ready(_server: Any) -> None:
        if worker is not None:
            worker.start()

    def on_exit(_server: Any) -> None:
        if worker is not None:
            worker.stop()

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
            self.cfg.set("when_ready", when_ready)
            self.cfg.set("on_exit", on_exit)
            self.cfg.set("worker_exit", worker_exit)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 25 would otherwise share one ~/.gunicorn/gunicorn.ctl between
                # every server this user runs.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return create_app(settings)

    try:
        App().run()
    finally:
        on_exit(None)


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
    run_gunicorn(
        settings,
        bind or settings.bind,
        workers or settings.workers,
        EmbeddedWorker.wanted(settings),
    )


# --------------------------------------------------------------------------- run


def _ensure_archives(obj: Obj) -> None:
    """With no archive configured, add the ones this machine's apt sources use."""
    from repoversion.archives import list_archives
    from repoversion.cli.archive import add_from_system
    from repoversion.db.session import transaction

    with transaction(obj.ctx.sessions) as session:
        if list_archives(session):
            return
    click.echo("No archive configured: adding the ones this machine's apt uses.", err=True)
    try:
        add_from_system(obj)
    except RepoversionError as exc:
        click.echo(
            f"warning: {exc.message.rstrip('.')}; add one with `repoversion archive add`.",
            err=True,
        )


def _first_sync(obj: Obj) -> bool:
    """Sync once; on failure say why in one sentence. :returns: whether it worked."""
    from repoversion.cli.common import progress
    from repoversion.mirror.sync import run_sync

    click.echo("Syncing (pool files are fetched when first asked for)...", err=True)
    try:
        with progress(sys.stderr.isatty()) as report:
            result = run_sync(obj.ctx, progress=report)
    except RepoversionError as exc:
        click.echo(
            f"warning: the sync failed, so this serves what was mirrored before: "
            f"{exc.message.rstrip('.')}.",
            err=True,
        )
        return False
    except Exception as exc:  # serving is the job: a sync bug must not prevent it
        log.debug("first sync failed", exc_info=True)
        click.echo(
            f"warning: the sync failed unexpectedly ({type(exc).__name__}: {exc}); "
            "serving what was mirrored before.",
            err=True,
        )
        return False
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.new:
        click.echo(f"New repoversion {result.repoversion} ({result.bump}).", err=True)
    elif result.repoversion:
        click.echo(f"Up to date: repoversion {result.repoversion}.", err=True)
    return True


def _print_client_lines(obj: Obj) -> None:
    """The lines to paste into another machine, for the newest version, on stdout."""
    from repoversion.archives import list_archives
    from repoversion.client_sources import client_setup
    from repoversion.db.session import transaction
    from repoversion.errors import NotFound
    from repoversion.versions import read_index, resolve_ref

    settings = obj.settings
    with transaction(obj.ctx.sessions) as session:
        try:
            version = resolve_ref(session, "latest")
        except NotFound:
            click.echo("No repoversion yet, so no apt line to print.", err=True)
            return
        order = {a.name: list(a.components) for a in list_archives(session)}
    setup = client_setup(read_index(obj.ctx.store, version), settings.public_url, order)
    click.echo(f"\nOn another machine, to use repoversion {version.version}:", err=True)
    click.echo(f"sudo install -d /etc/apt/keyrings && sudo {setup.key_command}")
    for note in setup.notes:
        click.echo(note)
    for line in setup.lines:
        click.echo(line)
    public = urlsplit(settings.public_url)
    if public.hostname in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"(These lines use public_url {settings.public_url} and this serves on "
            f"{settings.bind}: set REPOVERSION_PUBLIC_URL to the address other machines "
            "reach it at.)",
            err=True,
        )
    sys.stdout.flush()


@click.command()
@click.option("--no-sync", is_flag=True, help="Serve without syncing first.")
@pass_obj
def run(obj: Obj, no_sync: bool) -> None:
    """Set everything up, sync once, print the apt lines, serve (what `make run` does)."""
    from repoversion.home import initialise

    settings = obj.settings
    result = initialise(settings)
    click.echo(f"Home {result.home} ready; signing key {result.fingerprint}.", err=True)
    _ensure_archives(obj)
    if not no_sync:
        _first_sync(obj)
    _print_client_lines(obj)
    click.echo(f"Serving on http://{settings.bind}/ (Ctrl-C stops).", err=True)
    obj.close()
    run_gunicorn(settings, settings.bind, settings.workers, EmbeddedWorker.wanted(settings))


COMMANDS = [serve, run]
