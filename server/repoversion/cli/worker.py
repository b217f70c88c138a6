"""``repoversion worker``: run queued jobs (docs/jobs.md).

The command calls :mod:`repoversion.jobs` directly, as ``serve`` calls the web package:
a worker is a loop of transactions, not one action.
"""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.errors import RepoversionError


@click.command()
@click.option("--once", is_flag=True, help="Run at most one job, then exit.")
@pass_obj
def worker(obj: Obj, once: bool) -> None:
    """Run queued jobs (syncs) until SIGTERM; `serve` embeds one by default."""
    from repoversion.jobs.worker import Worker, configure_logging, exit_now

    configure_logging(obj.settings.log_level)
    runner = Worker(obj.ctx)
    with runner.signals():
        ran = runner.run(once=once)
    if runner.abandoned:
        exit_now(0)
    if not once:
        return
    if not ran:
        click.echo("No job was queued.", err=True)
        return
    claimed, outcome = ran[0]
    if outcome.error is not None:
        raise RepoversionError(f"Job {claimed.id} ({claimed.kind}) failed: {outcome.error}")
    click.echo(f"Job {claimed.id} ({claimed.kind}) succeeded.", err=True)


COMMANDS = [worker]
