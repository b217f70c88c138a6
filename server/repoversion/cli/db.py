"""``repoversion db upgrade``: bring the schema to alembic's head."""

from __future__ import annotations

import click

from repoversion.cli.common import Obj, pass_obj
from repoversion.db.session import upgrade as upgrade_schema


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@pass_obj
def upgrade(obj: Obj) -> None:
    """Apply pending migrations."""
    upgrade_schema(obj.settings.database_url)
    click.echo("Database schema is up to date.", err=True)


COMMANDS = [db]
