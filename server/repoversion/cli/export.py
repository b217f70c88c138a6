"""``repoversion export REF DIR [--lockfile FILE] [--json]``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress
from repoversion.errors import InvalidInput


@click.command("export")
@click.argument("ref")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option(
    "--lockfile",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Only the packages of this lockfile go into pool/ (the indices stay whole).",
)
@json_option
@pass_obj
def export_cmd(obj: Obj, ref: str, directory: Path, lockfile: Path | None, as_json: bool) -> None:
    """Write REF as a static apt tree into DIR, with its provenance, verified."""
    from repoversion.actions.export import export_tree

    data = _read(lockfile) if lockfile is not None else None
    with progress(sys.stderr.isatty() and not as_json) as report:
        out = export_tree(obj.ctx, ref, directory, data, str(lockfile), report)
    for warning in out["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(out)
        return
    click.echo(
        f"Repoversion {out['repoversion']} exported to {out['directory']}: "
        f"{out['files']} files ({out['pool_files']} pool files, {out['downloaded']} fetched "
        "from upstream), verified; check it offline with "
        f"`sh {Path(out['directory']) / 'provenance' / 'check.sh'}`."
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None


COMMANDS = [export_cmd]
