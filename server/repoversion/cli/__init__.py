"""The ``repoversion`` command: one click group, one module per noun.

Errors a user can cause are :class:`~repoversion.errors.RepoversionError`: printed on stderr
as one sentence with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repoversion.cli.common import Obj
from repoversion.errors import RepoversionError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="REPOVERSION_HOME",
    default=None,
    help="Home directory (default ./var).",
)
@click.version_option(package_name="repoversion")
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """repoversion: versioned apt repository snapshots."""
    obj = Obj(home)
    ctx.obj = obj
    ctx.call_on_close(obj.close)


def _register() -> None:
    from repoversion.cli import archive, db, init, materialize, serve, sync, tags, token, versions

    for module in (archive, db, init, materialize, serve, sync, tags, token, versions):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="repoversion", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RepoversionError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
