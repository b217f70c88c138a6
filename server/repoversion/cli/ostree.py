"""``repoversion ostree export`` (docs/ostree.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from repoversion import actions
from repoversion.actions import ostree as ostree_actions
from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress
from repoversion.errors import InvalidInput


@click.group()
def ostree() -> None:
    """Per-deb ostree commits and composed roots, served at /ostree/."""


def _read_lockfile(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None
    return actions.parse_lockfile(data, str(path))


@ostree.command("export")
@click.argument("packages", nargs=-1, metavar="[PKG[:ARCH][=VERSION]]...")
@click.option("--version", "ref", default=None, metavar="REF", help="The repoversion of PKGs.")
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Export every package of this lockfile instead.",
)
@json_option
@pass_obj
def export(
    obj: Obj, packages: tuple[str, ...], ref: str | None, lockfile: Path | None, as_json: bool
) -> None:
    """Commit debs to dpkg/data/<sha256> and dpkg/control/<sha256> (fetched if needed)."""
    if lockfile is None and (ref is None or not packages):
        raise InvalidInput("Give --version REF and packages, or --lockfile FILE.")
    lock = _read_lockfile(lockfile) if lockfile is not None else None
    ctx = obj.ctx
    debs = ostree_actions.plan_export(ctx, version=ref, packages=list(packages), lockfile=lock)
    with progress(sys.stderr.isatty() and not as_json) as report:
        result = ostree_actions.export_debs(ctx, debs, report)
    if as_json:
        print_json(result)
        return
    for deb in result["debs"]:
        state = "exported" if deb["new"] else "already exported"
        dropped = f", dropped {' '.join(deb['dropped'])}" if deb["dropped"] else ""
        click.echo(
            f"{deb['data']['ref']} {deb['data']['commit']}  {deb['package']} "
            f"{deb['version']} {deb['architecture']} ({state}{dropped})"
        )
    click.echo(f"{result['exported']} exported, {result['skipped']} already exported.", err=True)


@ostree.command("compose")
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The lockfile whose packages make the root.",
)
@click.option("--ref", required=True, metavar="NAME", help="The ostree ref to commit it to.")
@click.option(
    "--configure", is_flag=True, help="Run the maintainer scripts in the root (needs root)."
)
@click.option(
    "--deployable",
    is_flag=True,
    help="Lay the root out for ostree deployments: /usr/etc, dpkg database in /usr.",
)
@json_option
@pass_obj
def compose(
    obj: Obj, lockfile: Path, ref: str, configure: bool, deployable: bool, as_json: bool
) -> None:
    """Merge a lockfile's debs (exported as needed) into one root committed to ref NAME."""
    from repoversion.actions import compose as compose_actions

    lock = _read_lockfile(lockfile)
    with progress(sys.stderr.isatty() and not as_json) as report:
        result = compose_actions.compose_lockfile(
            obj.ctx, lock, ref, configure=configure, deployable=deployable, progress=report
        )
    if as_json:
        print_json(result)
        return
    click.echo(f"{result['ref']} {result['commit']}")
    done = [w for w in ("configured", "deployable") if result[w]]
    click.echo(
        f"{result['packages']} packages of repoversion {result['repoversion']} composed"
        + (f" ({', '.join(done)})" if done else "")
        + ".",
        err=True,
    )


COMMANDS = [ostree]
