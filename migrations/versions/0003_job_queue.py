"""The job table becomes a queue: ``status`` is renamed ``state``, and a running job gets a
worker, a lease and a count of attempts (``repoversion.jobs``).

Nothing used the table before, so no row needs converting; existing rows get
``attempts = 0``. SQLite rebuilds the table in batch mode.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status")
        batch_op.alter_column(
            "status", new_column_name="state", existing_type=sa.String(16), existing_nullable=False
        )
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_state", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_state")
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("worker")
        batch_op.alter_column(
            "state", new_column_name="status", existing_type=sa.String(16), existing_nullable=False
        )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_status", ["status", "id"], unique=False)
