"""``repoversion versions``, ``show`` and ``diff``: what the repoversions are and hold.

Each reads the home, or with ``--server`` a remote server's API, and prints the same
either way (:mod:`repoversion.cli.reads`).
"""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.cli.reads import reads, remote_options


@click.command()
@json_option
@remote_options
@pass_obj
def versions(obj: Obj, as_json: bool, server: str | None, token: str | None) -> None:
    """List repoversions, newest first."""
    rows = reads(obj, server, token).versions()
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo("No repoversion yet; run `repoversion sync`.", err=True)
    else:
        print_table(
            [{**r, "parent": r["parent"] or "-"} for r in rows],
            ["repoversion", "created", "bump", "parent", "state"],
        )


@click.command()
@click.argument("ref")
@json_option
@remote_options
@pass_obj
def show(obj: Obj, ref: str, as_json: bool, server: str | None, token: str | None) -> None:
    """Print a repoversion's index.json."""
    index = reads(obj, server, token).show(ref)
    if as_json:
        print_json(index)
        return
    click.echo(
        f"repoversion {index['repoversion']}  ({index['bump']}, parent "
        f"{index['parent'] or '-'}, created {index['created']})"
    )
    click.echo(f"state {index['state']}")
    c = index["changes"]
    click.echo(
        f"changes: {c['added']} added, {c['removed']} removed, {c['upgraded']} upgraded, "
        f"{c['downgraded']} downgraded"
    )
    for name, arc in index["archives"].items():
        click.echo(f"{name}  {arc['url']}  ({arc['mode']}, {arc['policy']})")
        for suite, data in arc["suites"].items():
            click.echo(
                f"  {suite}: {len(data['files'])} files, release {data['release'].get('date', '?')}"
            )


@click.command()
@click.argument("ref_a")
@click.argument("ref_b")
@json_option
@remote_options
@pass_obj
def diff(
    obj: Obj, ref_a: str, ref_b: str, as_json: bool, server: str | None, token: str | None
) -> None:
    """Packages added, removed, upgraded and downgraded from REF_A to REF_B."""
    out = reads(obj, server, token).diff(ref_a, ref_b)
    if as_json:
        print_json(out)
        return
    for kind, sign in (("added", "+"), ("removed", "-")):
        for p in out[kind]:
            click.echo(
                f"{sign} {p['name']} {p['version']} [{p['architecture']}] "
                f"{p['archive']}/{p['suite']}"
            )
    for kind, sign in (("upgraded", "^"), ("downgraded", "v")):
        for p in out[kind]:
            click.echo(
                f"{sign} {p['name']} {p['from']} -> {p['to']} [{p['architecture']}] "
                f"{p['archive']}/{p['suite']}"
            )
    if not any(out[k] for k in ("added", "removed", "upgraded", "downgraded")):
        click.echo("no package changes")


COMMANDS = [versions, show, diff]
