"""``repoversion archive add|edit|list|show|remove``."""

from __future__ import annotations

from pathlib import Path

import click

from repoversion import actions
from repoversion.cli.common import Obj, json_option, pass_obj, print_json, print_table
from repoversion.errors import InvalidInput
from repoversion.upstream.archives import MODES, POLICIES, ArchiveSpec, validate_url


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
    required=True,
    help="The archive's own OpenPGP keys that must sign its Release (binary or armored).",
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
@click.option(
    "--ostree-export",
    is_flag=True,
    help="Commit every deb stored for it to ostree too (by the worker).",
)
@pass_obj
def add(
    obj: Obj,
    name: str,
    url: str,
    suites: tuple[str, ...],
    components: tuple[str, ...],
    architectures: tuple[str, ...],
    keyring: Path,
    policy: str,
    mode: str,
    optional: bool,
    ca: Path | None,
    ostree_export: bool,
) -> None:
    """Add an upstream archive."""
    # The domain refuses credentials too; here the sentence can name this home's auth.conf.
    validate_url(url, obj.settings.auth_conf)
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
        ostree_export=ostree_export,
    )
    actions.add_archive(obj.ctx, spec)
    click.echo(f"Archive {name!r} added; the next sync mirrors it.", err=True)


@archive.command("edit")
@click.argument("name")
@click.option("--url", default=None, metavar="URL", help="The archive root at another mirror.")
@click.option(
    "--suite", "suites", multiple=True, metavar="S", help="Repeatable; replaces the suites."
)
@click.option(
    "--component",
    "components",
    multiple=True,
    metavar="C",
    help="Repeatable; replaces the components.",
)
@click.option(
    "--arch",
    "architectures",
    multiple=True,
    metavar="A",
    help="Repeatable; replaces the architectures.",
)
@click.option(
    "--keyring",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Replace the archive's keyring with the keys in FILE (binary or armored).",
)
@click.option(
    "--policy", type=click.Choice(POLICIES), default=None, help="When pool files are downloaded."
)
@click.option(
    "--optional/--required",
    "optional",
    default=None,
    help="Whether a failing sync of this archive only warns.",
)
@click.option(
    "--ostree-export/--no-ostree-export",
    "ostree_export",
    default=None,
    help="Whether every deb stored for it is committed to ostree too.",
)
@pass_obj
def edit(
    obj: Obj,
    name: str,
    url: str | None,
    suites: tuple[str, ...],
    components: tuple[str, ...],
    architectures: tuple[str, ...],
    keyring: Path | None,
    policy: str | None,
    optional: bool | None,
    ostree_export: bool | None,
) -> None:
    """Replace the given fields of an archive; the next sync uses them."""
    given = {
        "url": url,
        "suites": list(suites) or None,
        "components": list(components) or None,
        "architectures": list(architectures) or None,
        "keyring": keyring,
        "policy": policy,
        "required": None if optional is None else not optional,
        "ostree_export": ostree_export,
    }
    changes = {field: value for field, value in given.items() if value is not None}
    if not changes:
        raise InvalidInput(
            "Nothing to change: give --url, --suite, --component, --arch, --keyring, "
            "--policy, --optional, --required or --[no-]ostree-export."
        )
    if url is not None:
        validate_url(url, obj.settings.auth_conf)  # names this home's auth.conf
    actions.edit_archive(obj.ctx, name, changes)
    click.echo(f"Archive {name!r} changed; the next sync uses it.", err=True)


@archive.command("list")
@json_option
@pass_obj
def list_(obj: Obj, as_json: bool) -> None:
    """List configured archives."""
    rows = actions.list_archives(obj.ctx)
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
    data = actions.show_archive(obj.ctx, name)
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
    actions.remove_archive(obj.ctx, name)
    click.echo(f"Archive {name!r} removed; the next sync drops it.", err=True)


def add_from_system(obj: Obj) -> None:
    """Add every archive this host's apt sources use, policy on_demand, saying what
    happened to each on stderr."""
    for result in actions.add_from_system(obj.ctx):
        added = result.added
        if added is None:
            click.echo(f"warning: archive {result.name!r} {result.message}", err=True)
            continue
        click.echo(
            f"Added archive {result.name!r}: {added['url']} "
            f"{' '.join(added['suites'])} / {' '.join(added['components'])} / "
            f"{' '.join(added['architectures'])}",
            err=True,
        )


COMMANDS = [archive]
