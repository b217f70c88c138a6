"""``repoversion run``: the whole first experience (what ``make run`` does).

On a fresh Debian or Ubuntu machine:

1. initialise the home (settings file, schema, signing key) if needed;
2. with no archive configured, add the archives this machine's apt sources use
   (``init --from-system``, policy ``on_demand``);
3. sync once, with a progress bar on a terminal; if that fails (offline, say), say why
   in one sentence and serve what is already mirrored;
4. print on stdout the ``deb`` lines and the key command a user pastes into another
   machine, for the newest version, and the apt.conf lines that keep apt's ``--snapshot``
   on this server where apt would go elsewhere;
5. serve under gunicorn, like ``serve``.
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

import click

from repoversion import actions
from repoversion.cli.archive import add_from_system
from repoversion.cli.common import Obj, pass_obj, progress
from repoversion.cli.serve import run_gunicorn
from repoversion.errors import RepoversionError
from repoversion.home import initialise

log = logging.getLogger(__name__)


def _ensure_archives(obj: Obj) -> None:
    """With no archive configured, add the ones this machine's apt sources use."""
    if actions.list_archives(obj.ctx):
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
    click.echo("Syncing (pool files are fetched when first asked for)...", err=True)
    try:
        with progress(sys.stderr.isatty()) as report:
            result = actions.sync(obj.ctx, progress=report)
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
    settings = obj.settings
    setup = actions.client_lines(obj.ctx)
    if setup is None:
        click.echo("No repoversion yet, so no apt line to print.", err=True)
        return
    click.echo(f"\nOn another machine, to use repoversion {setup.version}:", err=True)
    click.echo(f"sudo install -d /etc/apt/keyrings && sudo {setup.key_command}")
    for note in setup.notes:
        click.echo(note)
    for line in setup.lines:
        click.echo(line)
    for line in setup.apt_conf_block():
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
    settings = obj.settings
    result = initialise(settings)
    click.echo(f"Home {result.home} ready; signing key {result.fingerprint}.", err=True)
    actions.sweep_leftovers(obj.ctx)
    _ensure_archives(obj)
    if not no_sync:
        _first_sync(obj)
    _print_client_lines(obj)
    click.echo(f"Serving on http://{settings.bind}/ (Ctrl-C stops).", err=True)
    obj.close()
    run_gunicorn(settings, settings.bind, settings.workers)


COMMANDS = [run]
