"""``repoversion db upgrade``: bring the schema to alembic's head."""

from __future__ import annotations

import click

from repoversion import actions
from repoversion.cli.common import Obj, pass_obj


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@pass_obj
def upgrade(obj: Obj) -> None:
    """Apply pending migrations."""
    actions.upgrade_schema(obj.ctx)
    click.echo("Database schema is up to date.", err=True)


COMMANDS = [db]
