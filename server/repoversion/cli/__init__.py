"""The ``repoversion`` command: one click group, one module per noun.

Errors a user can cause are :class:`~repoversion.errors.RepoversionError`: printed on stderr
as one sentence with a non-zero exit, never a traceback. So are failures of the machine
that the user can act on (a database locked by another writer or out of reach, a full
disk), through :func:`~repoversion.errors.from_exception`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from repoversion.cli.common import Obj
from repoversion.errors import RepoversionError, from_exception

#: command name → the module under repoversion.cli defining it (in its COMMANDS list).
#: Modules are imported when their command runs, so `repoversion sync` does not pay for
#: the web server's imports.
LAZY = {
    "archive": "archive",
    "db": "db",
    "init": "init",
    "lock": "lock",
    "lockfile": "lock",
    "materialize": "materialize",
    "ostree": "ostree",
    "serve": "serve",
    "run": "run",
    "sync": "sync",
    "show": "versions",
    "diff": "versions",
    "export": "export",
    "fsck": "fsck",
    "gc": "gc",
    "history": "packages",
    "key": "key",
    "packages": "packages",
    "tag": "tags",
    "tags": "tags",
    "token": "token",
    "versions": "versions",
    "worker": "worker",
}


#: command name → its help's first line, so `repoversion --help` lists the commands
#: without importing them (tests/test_remote_cli.py checks these against the commands)
SUMMARIES = {
    "archive": "Upstream archives to mirror.",
    "db": "Database schema.",
    "diff": "Packages added, removed, upgraded and downgraded from REF_A to REF_B.",
    "export": "Write REF as a static apt tree into DIR, with its provenance, verified.",
    "fsck": "Re-hash every blob and check the database's references against the store.",
    "gc": "Drop repoversions not kept (tagged ones always are) and free unreferenced blobs.",
    "history": "Each version of package PKG and the repoversions that held it, oldest first.",
    "init": "Create the home: settings file, database schema, signing key.",
    "key": "The signing key: rotate it, then retire the old one.",
    "lock": "Resolve PKGs as apt-get install does on an empty system, into a lockfile.",
    "lockfile": "Update, verify and use lockfiles.",
    "materialize": "Download every file REF (or a lockfile) needs that is not stored yet.",
    "ostree": "Per-deb ostree commits and composed roots, served at /ostree/.",
    "packages": "List the binary and source packages of the version REF names.",
    "run": "Set everything up, sync once, print the apt lines, serve (what `make run` does).",
    "serve": "Serve the apt views, the API and the ostree repository.",
    "show": "Print a repoversion's index.json.",
    "sync": "Mirror every archive; commit a new repoversion if anything changed.",
    "tag": "Point tag NAME at REF (a version, a tag, latest or a timestamp), or delete it.",
    "tags": "List tags (latest included) with their version and when they moved.",
    "token": "API tokens (stored hashed).",
    "versions": "List repoversions, newest first.",
    "worker": "Run queued jobs (syncs) until SIGTERM; `serve` embeds one by default.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(LAZY) | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, as click writes it, from :data:`SUMMARIES` for
        commands not imported yet (one without a summary is imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            if name in SUMMARIES and name not in self.commands:
                # a stand-in command: click shortens its help as it would the real one's
                command: click.Command | None = click.Command(name, help=SUMMARIES[name])
            else:
                command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            import importlib

            module = importlib.import_module(f"repoversion.cli.{LAZY[cmd_name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return self.commands.get(cmd_name)

    @property
    def all_commands(self) -> dict[str, click.Command]:
        """Every command, imported (for docs and tests)."""
        for name in LAZY:
            self.get_command(click.Context(self), name)
        return dict(self.commands)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        _fail(from_exception(exc) or exc)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        known = from_exception(exc)
        if known is None:
            raise  # a bug: its traceback is what a report needs
        _fail(known)


def _fail(exc: RepoversionError) -> NoReturn:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(1)
