"""``repoversion sync``, ``show`` and ``diff``."""

from __future__ import annotations

import json
import sys

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, progress
from repoversion.db.session import transaction
from repoversion.versions import BUMPS, read_index, resolve_ref


@click.command()
@click.option(
    "--bump",
    type=click.Choice(BUMPS),
    default=None,
    help="Raise (never lower) the computed version bump.",
)
@json_option
@pass_obj
def sync(obj: Obj, bump: str | None, as_json: bool) -> None:
    """Mirror every archive; commit a new repoversion if anything changed."""
    from repoversion.mirror.sync import run_sync

    with progress(sys.stderr.isatty() and not as_json) as report:
        result = run_sync(obj.ctx, bump=bump, progress=report)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        print_json(result.to_json())
    elif result.new:
        c = result.changes
        click.echo(
            f"New repoversion {result.repoversion} ({result.bump}): {c['added']} added, "
            f"{c['removed']} removed, {c['upgraded']} upgraded, "
            f"{c['downgraded']} downgraded."
        )
    elif result.repoversion:
        click.echo(f"Nothing changed; the newest repoversion is still {result.repoversion}.")
    else:
        click.echo("Nothing to mirror yet; add an archive with `repoversion archive add`.")


@click.command()
@click.argument("ref")
@json_option
@pass_obj
def show(obj: Obj, ref: str, as_json: bool) -> None:
    """Print a repoversion's index.json."""
    with transaction(obj.ctx.sessions) as session:
        version = resolve_ref(session, ref)
    index = read_index(obj.ctx.store, version)
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
@pass_obj
def diff(obj: Obj, ref_a: str, ref_b: str, as_json: bool) -> None:
    """Packages added, removed, upgraded and downgraded from REF_A to REF_B."""
    from repoversion.packages import diff_versions

    with transaction(obj.ctx.sessions) as session:
        out = diff_versions(session, resolve_ref(session, ref_a), resolve_ref(session, ref_b))
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
        click.echo(json.dumps("no package changes")[1:-1])


COMMANDS = [sync, show, diff]
