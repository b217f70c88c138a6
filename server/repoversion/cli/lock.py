"""``repoversion lock`` and ``repoversion lockfile update|verify|sources|apt-args``.

``lock`` resolves packages with apt's own resolver against a repoversion and writes the
lockfile (SPEC section 6), from the home or, with ``--server``, from a server's API (the
same bytes). ``lockfile update`` exits with :data:`MOVED` when packages moved, so a CI bot
can tell "nothing to do" (0) from "open a pull request" (3) from a failure (1).
``lockfile sources --exact`` stores the lockfile (on the home, or on a server with a write
token) and prints the apt source of exactly its packages, ``/l/<id>/``.

:mod:`repoversion.actions` (and with it the database layer) is imported only by the
commands that read the home, so ``lock --server`` starts as fast as the other remote reads.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from repoversion.cli.common import Obj, json_option, pass_obj, print_json
from repoversion.cli.reads import remote_options
from repoversion.errors import InvalidInput, RepoversionError

if TYPE_CHECKING:
    from repoversion import actions

#: ``lockfile update``'s exit status when packages were added, removed or changed
MOVED = 3


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None


def _read(path: Path) -> Any:
    from repoversion import actions

    return actions.parse_lockfile(_read_bytes(path), str(path))


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` at once (a reader never sees half a lockfile)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"Cannot write {path}: {exc.strerror}.") from None


@click.command("lock")
@click.option("--version", "ref", required=True, metavar="REF", help="Version, tag or timestamp.")
@click.option("--arch", "arch", required=True, metavar="A", help="Architecture, e.g. amd64.")
@click.option("--recommends", is_flag=True, help="Install Recommends too (apt's default).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the lockfile here (default: stdout).",
)
@click.argument("packages", nargs=-1, required=True, metavar="PKG[=VER|/SUITE]...")
@remote_options
@pass_obj
def lock(
    obj: Obj,
    ref: str,
    arch: str,
    recommends: bool,
    output: Path | None,
    packages: tuple[str, ...],
    server: str | None,
    token: str | None,
) -> None:
    """Resolve PKGs as apt-get install does on an empty system, into a lockfile."""
    if server:
        from repoversion.cli.remote import RemoteReads

        data = RemoteReads(server, token).resolve(ref, arch, list(packages), recommends)
    else:
        from repoversion import actions

        data = actions.lock_packages(obj.ctx, ref, arch, list(packages), recommends=recommends)
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        _write(output, data)


@click.group("lockfile")
def lockfile_group() -> None:
    """Update, verify and use lockfiles."""


lockfile_arg = click.argument("file", type=click.Path(path_type=Path, dir_okay=False))


@lockfile_group.command("update")
@lockfile_arg
@click.option(
    "--version", "ref", default="latest", metavar="REF", help="Resolve against this (latest)."
)
@json_option
@pass_obj
def update(obj: Obj, file: Path, ref: str, as_json: bool) -> None:
    """Resolve FILE's request again against REF and rewrite FILE if packages moved.

    Exit 0 when nothing moved (FILE is left as it is), 3 when packages were added,
    removed, upgraded or downgraded (FILE is rewritten), 1 on an error.
    """
    from repoversion import actions

    found = actions.update_lockfile(obj.ctx, _read(file), ref)
    if found.moved:
        _write(file, found.data)
    if as_json:
        print_json(_changes_json(found))
    else:
        _print_changes(file, found)
    if found.moved:
        # not click's Exit: in standalone_mode=False click returns its code instead
        sys.exit(MOVED)


def _changes_json(found: actions.LockUpdate) -> dict[str, Any]:
    c = found.changes
    return {
        "from": found.old,
        "to": found.new,
        "moved": found.moved,
        "counts": {
            "added": len(c.added),
            "removed": len(c.removed),
            "upgraded": len(c.upgraded),
            "downgraded": len(c.downgraded),
        },
        "added": [{"name": n, "architecture": a, "version": v} for (n, a), v in c.added],
        "removed": [{"name": n, "architecture": a, "version": v} for (n, a), v in c.removed],
        "upgraded": [
            {"name": n, "architecture": a, "from": o, "to": t} for (n, a), o, t in c.upgraded
        ],
        "downgraded": [
            {"name": n, "architecture": a, "from": o, "to": t} for (n, a), o, t in c.downgraded
        ],
    }


def _print_changes(file: Path, found: actions.LockUpdate) -> None:
    c = found.changes
    if not found.moved:
        click.echo(f"No package moved from {found.old} to {found.new}: {file} is unchanged.")
        return
    for (name, arch), version in c.added:
        click.echo(f"+ {name} {version} ({arch})")
    for (name, arch), version in c.removed:
        click.echo(f"- {name} {version} ({arch})")
    for (name, arch), old, new in c.upgraded:
        click.echo(f"^ {name} {old} -> {new} ({arch})")
    for (name, arch), old, new in c.downgraded:
        click.echo(f"v {name} {old} -> {new} ({arch})")
    click.echo(
        f"{file}: {found.old} -> {found.new}: {len(c.added)} added, {len(c.removed)} removed, "
        f"{len(c.upgraded)} upgraded, {len(c.downgraded)} downgraded."
    )


@lockfile_group.command("verify")
@lockfile_arg
@pass_obj
def verify(obj: Obj, file: Path) -> None:
    """Check every package of FILE is still served here with its sha256 (exit 1 if not)."""
    from repoversion import actions

    lock = _read(file)
    bad = actions.verify_lockfile(obj.ctx, lock)
    for sentence in bad:
        click.echo(f"error: {sentence}", err=True)
    if bad:
        raise RepoversionError(
            f"{len(bad)} of {len(lock['packages'])} entries of {file} are not served as locked."
        )
    click.echo(
        f"{file}: all {len(lock['packages'])} packages are served by repoversion "
        f"{lock['repoversion']} with their sha256."
    )


@lockfile_group.command("sources")
@lockfile_arg
@click.option(
    "--exact",
    is_flag=True,
    help="Store FILE on the server and print the apt source of exactly its packages (/l/<id>/).",
)
@remote_options
@pass_obj
def sources(obj: Obj, file: Path, exact: bool, server: str | None, token: str | None) -> None:
    """Print the apt lines (and the key command) of FILE's sources."""
    if exact:
        stored = _store(obj, file, server, token)
        key_command, notes, lines = stored["key_command"], [], stored["sources"]
    elif server:
        raise InvalidInput("lockfile sources reads a server only with --exact.")
    else:
        from repoversion import actions

        setup = actions.lockfile_sources(obj.ctx, _read(file))
        key_command, notes, lines = setup.key_command, setup.notes, setup.lines
    click.echo(f"sudo install -d /etc/apt/keyrings && sudo {key_command}")
    for note in notes:
        click.echo(note)
    for line in lines:
        click.echo(line)


def _store(obj: Obj, file: Path, server: str | None, token: str | None) -> dict[str, Any]:
    """Store FILE on the server at ``server`` (checked there), or on the home."""
    if server:
        from repoversion.cli.remote import RemoteReads

        try:
            lock = json.loads(_read_bytes(file))
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput(f"{file} is not a JSON lockfile.") from None
        return RemoteReads(server, token).store_lockfile(lock)
    from repoversion.actions.lockfiles import store_lockfile

    return store_lockfile(obj.ctx, _read(file))


@lockfile_group.command("apt-args")
@lockfile_arg
def apt_args(file: Path) -> None:
    """Print name=version for each package of FILE, one per line, for apt-get install."""
    from repoversion import actions

    for arg in actions.lockfile_apt_args(_read(file)):
        click.echo(arg)


COMMANDS = [lock, lockfile_group]
