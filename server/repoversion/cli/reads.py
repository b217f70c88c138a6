"""What the read commands read from: the local home, or a server's API (``--server``).

``versions``, ``show``, ``diff``, ``packages``, ``history`` and ``tags`` print the same
output either way: both sources return the JSON objects of SPEC section 4 (the API
returns the objects the actions return), and the commands format only those. The local
source imports :mod:`repoversion.actions` (and with it the database layer) when it is
first asked something; the remote one never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict, TypeVar

import click

from repoversion.cli.common import Obj

F = TypeVar("F", bound=Callable[..., Any])


class Filters(TypedDict):
    """What ``packages`` may filter on (None: any)."""

    name: str | None
    arch: str | None
    archive: str | None
    suite: str | None


class Reads(Protocol):
    """The questions the read commands ask."""

    def versions(self) -> list[dict[str, Any]]: ...

    def show(self, ref: str) -> dict[str, Any]: ...

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]: ...

    def packages(self, ref: str, filters: Filters) -> list[dict[str, Any]]: ...

    def history(self, name: str, version: str | None, arch: str | None) -> list[dict[str, Any]]: ...

    def tags(self) -> list[dict[str, Any]]: ...

    def tag_history(self, name: str) -> list[dict[str, Any]]: ...


class LocalReads:
    """The answers of :mod:`repoversion.actions` over the home's database and store."""

    def __init__(self, obj: Obj) -> None:
        self.obj = obj

    def versions(self) -> list[dict[str, Any]]:
        from repoversion import actions

        return actions.list_versions(self.obj.ctx)

    def show(self, ref: str) -> dict[str, Any]:
        from repoversion import actions

        return actions.show_version(self.obj.ctx, ref)

    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        from repoversion import actions

        return actions.diff(self.obj.ctx, ref_a, ref_b)

    def packages(self, ref: str, filters: Filters) -> list[dict[str, Any]]:
        from repoversion import actions

        items: list[dict[str, Any]] = actions.packages(self.obj.ctx, ref, **filters)["items"]
        return items

    def history(self, name: str, version: str | None, arch: str | None) -> list[dict[str, Any]]:
        from repoversion import actions

        return actions.history(self.obj.ctx, name, version=version, arch=arch)

    def tags(self) -> list[dict[str, Any]]:
        from repoversion import actions

        return actions.list_tags(self.obj.ctx)

    def tag_history(self, name: str) -> list[dict[str, Any]]:
        from repoversion import actions

        return actions.tag_history(self.obj.ctx, name)


def remote_options(command: F) -> F:
    """``--server URL`` and ``--token T`` (env ``REPOVERSION_SERVER``,
    ``REPOVERSION_TOKEN``): read from a server's API instead of the home."""
    command = click.option(
        "--token",
        envvar="REPOVERSION_TOKEN",
        default=None,
        metavar="T",
        help="API token (Bearer), for a server whose reads are private.",
    )(command)
    return click.option(
        "--server",
        envvar="REPOVERSION_SERVER",
        default=None,
        metavar="URL",
        help="Read from the repoversion server at URL (its HTTP API) instead of the home.",
    )(command)


def reads(obj: Obj, server: str | None, token: str | None) -> Reads:
    """The remote source when ``server`` is given, else the local home."""
    if server:
        from repoversion.cli.remote import RemoteReads

        return RemoteReads(server, token)
    return LocalReads(obj)
