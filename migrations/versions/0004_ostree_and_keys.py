"""ostree exports and composes, archives that export every stored deb, and the signing
keys served at ``/keys`` (SPEC sections 4 and 7).

- ``archive.ostree_export``: every deb of the archive that gets stored is also committed
  to ostree by the worker (``archive add|edit --ostree-export``).
- ``ostree_export``: one row per exported deb, keyed by the deb's sha256, with the
  checksums of its ``dpkg/data`` and ``dpkg/control`` commits and the entries dropped.
- ``ostree_compose``: one row per composed commit, with the debs it was made of, so GC
  keeps what a compose needs.
- ``signing_key``: every public signing key the server has used; ``retired`` set once
  ``key retire`` ends the overlap. All nodes serve the same list at ``/keys``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("archive", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ostree_export", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "ostree_export",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("architecture", sa.Text(), nullable=False),
        sa.Column("data_commit", sa.String(length=64), nullable=False),
        sa.Column("control_commit", sa.String(length=64), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_ostree_export")),
    )
    op.create_table(
        "ostree_compose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("repoversion_id", sa.Integer(), nullable=True),
        sa.Column("debs", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repoversion_id"],
            ["repoversion.id"],
            name=op.f("fk_ostree_compose_repoversion_id_repoversion"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ostree_compose")),
    )
    op.create_index("ix_ostree_compose_ref", "ostree_compose", ["ref"], unique=False)
    op.create_table(
        "signing_key",
        sa.Column("fingerprint", sa.String(length=40), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_signing_key")),
    )


def downgrade() -> None:
    op.drop_table("signing_key")
    op.drop_index("ix_ostree_compose_ref", table_name="ostree_compose")
    op.drop_table("ostree_compose")
    op.drop_table("ostree_export")
    with op.batch_alter_table("archive", schema=None) as batch_op:
        batch_op.drop_column("ostree_export")
