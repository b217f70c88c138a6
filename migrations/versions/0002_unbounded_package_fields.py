"""Package names, versions, architectures and components, and suite names, become TEXT.

Debian bounds none of them: a 300-character version or a long architecture name from
upstream's Packages made PostgreSQL refuse the whole sync ("value too long"). PostgreSQL
changes VARCHAR to TEXT in place; SQLite (which never enforced the lengths) rebuilds the
tables in batch mode so the declared types match the models.

Downgrading shortens the columns again, and fails without changing anything when a row
holds a longer value (PostgreSQL refuses the cast) rather than cutting it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: table → (column, length it had in 0001)
BOUNDED = {
    "package": (("component", 100), ("name", 200), ("version", 200), ("architecture", 40)),
    "suite": (("name", 200),),
}


def upgrade() -> None:
    for table, columns in BOUNDED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=length),
                    type_=sa.Text(),
                    existing_nullable=False,
                )


def downgrade() -> None:
    for table, columns in BOUNDED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length in columns:
                batch_op.alter_column(
                    column,
                    existing_type=sa.Text(),
                    type_=sa.String(length=length),
                    existing_nullable=False,
                )
