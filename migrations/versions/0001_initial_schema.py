"""Initial schema: archives, blobs, repoversions, range membership, tags, jobs, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("suites", sa.JSON(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("architectures", sa.JSON(), nullable=False),
        sa.Column("keyring", sa.LargeBinary(), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("ca", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive")),
        sa.UniqueConstraint("name", name=op.f("uq_archive_name")),
    )
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blob")),
    )
    op.create_table(
        "derived",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("blobs", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_derived")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_status", ["status", "id"], unique=False)

    op.create_table(
        "repoversion",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("minor", sa.Integer(), nullable=False),
        sa.Column("patch", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=71), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("bump", sa.String(length=8), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("index_sha256", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("dropped", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["repoversion.id"], name=op.f("fk_repoversion_parent_id_repoversion")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repoversion")),
        sa.UniqueConstraint("version", name=op.f("uq_repoversion_version")),
    )
    with op.batch_alter_table("repoversion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_repoversion_created"), ["created"], unique=False)

    op.create_table(
        "suite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("archive", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suite")),
        sa.UniqueConstraint("archive", "name", name=op.f("uq_suite_archive")),
    )
    op.create_table(
        "token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token")),
        sa.UniqueConstraint("name", name=op.f("uq_token_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_token_token_hash")),
    )
    op.create_table(
        "index_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added"], ["repoversion.id"], name=op.f("fk_index_file_added_repoversion")
        ),
        sa.ForeignKeyConstraint(
            ["removed"], ["repoversion.id"], name=op.f("fk_index_file_removed_repoversion")
        ),
        sa.ForeignKeyConstraint(
            ["suite_id"], ["suite.id"], name=op.f("fk_index_file_suite_id_suite")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_file")),
    )
    with op.batch_alter_table("index_file", schema=None) as batch_op:
        batch_op.create_index("ix_index_file_range", ["suite_id", "removed", "added"], unique=False)

    op.create_table(
        "package",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("architecture", sa.String(length=40), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=True),
        sa.Column("stanza", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added"], ["repoversion.id"], name=op.f("fk_package_added_repoversion")
        ),
        sa.ForeignKeyConstraint(
            ["removed"], ["repoversion.id"], name=op.f("fk_package_removed_repoversion")
        ),
        sa.ForeignKeyConstraint(["suite_id"], ["suite.id"], name=op.f("fk_package_suite_id_suite")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package")),
    )
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.create_index("ix_package_filename", ["filename"], unique=False)
        batch_op.create_index("ix_package_name", ["name"], unique=False)
        batch_op.create_index("ix_package_range", ["suite_id", "removed", "added"], unique=False)

    op.create_table(
        "suite_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["added"], ["repoversion.id"], name=op.f("fk_suite_release_added_repoversion")
        ),
        sa.ForeignKeyConstraint(
            ["removed"], ["repoversion.id"], name=op.f("fk_suite_release_removed_repoversion")
        ),
        sa.ForeignKeyConstraint(
            ["suite_id"], ["suite.id"], name=op.f("fk_suite_release_suite_id_suite")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suite_release")),
    )
    with op.batch_alter_table("suite_release", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suite_release_range", ["suite_id", "added", "removed"], unique=False
        )

    op.create_table(
        "tag",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("repoversion_id", sa.Integer(), nullable=False),
        sa.Column("moved", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repoversion_id"], ["repoversion.id"], name=op.f("fk_tag_repoversion_id_repoversion")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tag")),
    )
    op.create_table(
        "tag_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("repoversion_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repoversion_id"],
            ["repoversion.id"],
            name=op.f("fk_tag_event_repoversion_id_repoversion"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_event")),
    )
    with op.batch_alter_table("tag_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_event_tag"), ["tag"], unique=False)

    op.create_table(
        "source_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["package.id"], name=op.f("fk_source_file_package_id_package")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_file")),
    )
    with op.batch_alter_table("source_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_file_package_id"), ["package_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_source_file_path"), ["path"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_file_path"))
        batch_op.drop_index(batch_op.f("ix_source_file_package_id"))

    op.drop_table("source_file")
    with op.batch_alter_table("tag_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_event_tag"))

    op.drop_table("tag_event")
    op.drop_table("tag")
    with op.batch_alter_table("suite_release", schema=None) as batch_op:
        batch_op.drop_index("ix_suite_release_range")

    op.drop_table("suite_release")
    with op.batch_alter_table("package", schema=None) as batch_op:
        batch_op.drop_index("ix_package_range")
        batch_op.drop_index("ix_package_name")
        batch_op.drop_index("ix_package_filename")

    op.drop_table("package")
    with op.batch_alter_table("index_file", schema=None) as batch_op:
        batch_op.drop_index("ix_index_file_range")

    op.drop_table("index_file")
    op.drop_table("token")
    op.drop_table("suite")
    with op.batch_alter_table("repoversion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repoversion_created"))

    op.drop_table("repoversion")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status")

    op.drop_table("job")
    op.drop_table("derived")
    op.drop_table("blob")
    op.drop_table("archive")
