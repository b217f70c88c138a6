"""``repoversion archive add|list|show|remove``."""

from __future__ import annotations

from pathlib import Path

import click

from repoversion.archive.keyring import normalise, read_keyring
from repoversion.archives import (
    MODES,
    POLICIES,
    ArchiveSpec,
    add_archive,
    archive_json,
    get_archive,
    list_archives,
    remove_archive,
)
from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.db.session import transaction
from repoversion.errors import Conflict, InvalidInput


@click.group()
def archive() -> None:
    """Upstream archives to mirror."""


@archive.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--suite", "suites", multiple=True, required=True)
@click.option("--component", "components", multiple=True, required=True)
@click.option("--arch", "architectures", multiple=True, required=True)
@click.option(
    "--keyring",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="OpenPGP keys that must sign the archive's Release (binary or armored).",
)
@click.option("--policy", type=click.Choice(POLICIES), default="on_demand", show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="signed", show_default=True)
@click.option("--optional", is_flag=True, help="A failing sync of this archive only warns.")
@click.option(
    "--ca",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="PEM CA bundle to trust for this upstream's https.",
)
@pass_obj
def add(
    obj: Obj,
    name: str,
    url: str,
    suites: tuple[str, ...],
    components: tuple[str, ...],
    architectures: tuple[str, ...],
    keyring: Path | None,
    policy: str,
    mode: str,
    optional: bool,
    ca: Path | None,
) -> None:
    """Add an upstream archive."""
    spec = ArchiveSpec(
        name=name,
        url=url,
        suites=list(suites),
        components=list(components),
        architectures=list(architectures),
        keyring_path=keyring,
        policy=policy,
        mode=mode,
        required=not optional,
        ca_path=ca,
    )
    with transaction(obj.ctx.sessions) as session:
        add_archive(session, spec, obj.settings.clock())
    click.echo(f"Archive {name!r} added; the next sync mirrors it.", err=True)


@archive.command("list")
@json_option
@pass_obj
def list_(obj: Obj, as_json: bool) -> None:
    """List configured archives."""
    with transaction(obj.ctx.sessions) as session:
        rows = [archive_json(a) for a in list_archives(session)]
    if as_json:
        print_json(rows)
        return
    print_table(
        [
            {
                **r,
                "suites": ",".join(r["suites"]),
                "components": ",".join(r["components"]),
                "architectures": ",".join(r["architectures"]),
            }
            for r in rows
        ],
        ["name", "url", "suites", "components", "architectures", "policy", "mode"],
    )


@archive.command("show")
@click.argument("name")
@json_option
@pass_obj
def show(obj: Obj, name: str, as_json: bool) -> None:
    """Show one archive."""
    with transaction(obj.ctx.sessions) as session:
        data = archive_json(get_archive(session, name), detail=True)
    if as_json:
        print_json(data)
    else:
        for key, value in data.items():
            if isinstance(value, list):
                value = " ".join(value)
            click.echo(f"{key}: {value}")


@archive.command("remove")
@click.argument("name")
@pass_obj
def remove(obj: Obj, name: str) -> None:
    """Remove an archive; versions already made keep serving it."""
    with transaction(obj.ctx.sessions) as session:
        remove_archive(session, name)
    click.echo(f"Archive {name!r} removed; the next sync drops it.", err=True)


def _signed_by(value: str) -> bytes | None:
    """apt's Signed-By: a path (or several) or an inline armored key."""
    if "BEGIN PGP PUBLIC KEY BLOCK" in value:
        text = "\n".join("" if line.strip() == "." else line.strip() for line in value.splitlines())
        return normalise(text.encode(), "The inline Signed-By key")
    blobs = [read_keyring(Path(p)) for p in value.split() if p.startswith("/")]
    return b"".join(blobs) or None


def add_from_system(obj: Obj) -> None:
    """Add every archive this host's apt sources use, policy on_demand."""
    from repoversion.aptsources import read_system_sources

    found = read_system_sources()
    if not found:
        raise InvalidInput("This host's apt sources list no http(s) archive to mirror.")
    with transaction(obj.ctx.sessions) as session:
        for sys_arc in found:
            try:
                keyring = b"".join(filter(None, (_signed_by(s) for s in sys_arc.signed_by))) or None
            except InvalidInput as exc:
                click.echo(f"warning: archive {sys_arc.name!r} skipped: {exc.message}", err=True)
                continue
            spec = ArchiveSpec(
                name=sys_arc.name,
                url=sys_arc.url,
                suites=sys_arc.suites,
                components=sys_arc.components,
                architectures=sys_arc.architectures,
                keyring=keyring,
                policy="on_demand",
            )
            try:
                with session.begin_nested():
                    add_archive(session, spec, obj.settings.clock())
            except Conflict:
                click.echo(f"Archive {sys_arc.name!r} exists already; kept as it is.", err=True)
                continue
            except InvalidInput as exc:
                click.echo(f"warning: archive {sys_arc.name!r} skipped: {exc.message}", err=True)
                continue
            click.echo(
                f"Added archive {sys_arc.name!r}: {sys_arc.url} "
                f"{' '.join(sys_arc.suites)} / {' '.join(sys_arc.components)} / "
                f"{' '.join(sys_arc.architectures)}",
                err=True,
            )


COMMANDS = [archive]
