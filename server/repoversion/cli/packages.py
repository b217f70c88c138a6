"""``repoversion packages REF`` and ``history PKG``: what a version holds, and which
versions held a package.

Both read the home, or with ``--server`` a remote server's API, and print the same
either way (:mod:`repoversion.cli.reads`).
"""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.cli.reads import Filters, reads, remote_options

#: a history line lists at most this many repoversions; more are shown as a span
SHOWN = 4


@click.command()
@click.argument("ref")
@click.option("--name", default=None, metavar="N", help="Only packages named N.")
@click.option("--arch", default=None, metavar="A", help="Only architecture A (or source).")
@click.option("--archive", default=None, metavar="A", help="Only archive A.")
@click.option("--suite", default=None, metavar="S", help="Only suite S.")
@json_option
@remote_options
@pass_obj
def packages(
    obj: Obj,
    ref: str,
    name: str | None,
    arch: str | None,
    archive: str | None,
    suite: str | None,
    as_json: bool,
    server: str | None,
    token: str | None,
) -> None:
    """List the binary and source packages of the version REF names."""
    filters: Filters = {"name": name, "arch": arch, "archive": archive, "suite": suite}
    rows = reads(obj, server, token).packages(ref, filters)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo(f"No package in {ref} matches.", err=True)
    else:
        print_table(rows, ["name", "version", "architecture", "archive", "suite", "component"])


@click.command()
@click.argument("name", metavar="PKG")
@click.option("--version", default=None, metavar="V", help="Only version V of the package.")
@click.option("--arch", default=None, metavar="A", help="Only architecture A (or source).")
@json_option
@remote_options
@pass_obj
def history(
    obj: Obj,
    name: str,
    version: str | None,
    arch: str | None,
    as_json: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Each version of package PKG and the repoversions that held it, oldest first."""
    rows = reads(obj, server, token).history(name, version, arch)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo(f"No kept repoversion holds {_what(name, version, arch)}.", err=True)
    else:
        print_table(
            [{**r, "repoversions": held(r["repoversions"])} for r in rows],
            ["version", "architecture", "archive", "suite", "repoversions"],
        )


def held(versions: list[str]) -> str:
    """The repoversions of one history line, shortened to a span when there are many.

    >>> held(["1.0.0", "1.1.0"])
    '1.0.0 1.1.0'
    >>> held(["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0"])
    '1.0.0 … 2.1.0 (5)'
    """
    if len(versions) <= SHOWN:
        return " ".join(versions)
    return f"{versions[0]} … {versions[-1]} ({len(versions)})"


def _what(name: str, version: str | None, arch: str | None) -> str:
    what = [name]
    if version is not None:
        what.append(version)
    if arch is not None:
        what.append(f"[{arch}]")
    return " ".join(what)


COMMANDS = [packages, history]
