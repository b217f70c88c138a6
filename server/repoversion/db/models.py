"""Typed SQLAlchemy 2 models. Alembic (``migrations/``) owns the schema; never ``create_all``.

Membership is kept as ranges of repoversions, as pulpcore does: a :class:`Package` or
:class:`IndexFile` row is a member of every repoversion whose ``id`` satisfies
``added <= id`` and (``removed`` is NULL or ``id < removed``). A new repoversion writes
rows only for what changed, so it costs database space in proportion to the change.
Repoversion ids are never reused: a dropped version keeps its row (``dropped`` set).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHA256 = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Archive(Base):
    """One configured upstream apt repository.

    Its keyring and CA live here, so every node sharing the database has them.
    """

    __tablename__ = "archive"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    suites: Mapped[list[str]] = mapped_column(JSON)
    components: Mapped[list[str]] = mapped_column(JSON)
    architectures: Mapped[list[str]] = mapped_column(JSON)
    keyring: Mapped[bytes] = mapped_column(LargeBinary)
    policy: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    ca: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: every deb stored for this archive is also committed to ostree by the worker
    ostree_export: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Blob(Base):
    """A blob present in the store, recorded after its digest was verified."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(SHA256, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Repoversion(Base):
    """One committed state. ``id`` orders versions and bounds membership ranges."""

    __tablename__ = "repoversion"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    patch: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    state: Mapped[str] = mapped_column(String(71))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)
    bump: Mapped[str] = mapped_column(String(8))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    index_sha256: Mapped[str] = mapped_column(SHA256)
    changes: Mapped[dict[str, int]] = mapped_column(JSON)
    dropped: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Suite(Base):
    """An (archive name, suite) pair ever mirrored. Rows outlive the archive's configuration."""

    __tablename__ = "suite"
    __table_args__ = (UniqueConstraint("archive", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    archive: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)


class SuiteRelease(Base):
    """The upstream Release a suite served over a range of repoversions."""

    __tablename__ = "suite_release"
    __table_args__ = (Index("ix_suite_release_range", "suite_id", "added", "removed"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suite.id"))
    sha256: Mapped[str] = mapped_column(SHA256)
    date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    added: Mapped[int] = mapped_column(ForeignKey("repoversion.id"))
    removed: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)


class IndexFile(Base):
    """A file served under ``dists/<suite>/`` (Packages, Sources, Translation…)."""

    __tablename__ = "index_file"
    __table_args__ = (Index("ix_index_file_range", "suite_id", "removed", "added"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suite.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(SHA256)
    size: Mapped[int] = mapped_column(BigInteger)
    added: Mapped[int] = mapped_column(ForeignKey("repoversion.id"))
    removed: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)


class Package(Base):
    """A binary or source package of one suite and component, over a range of repoversions.

    ``kind`` is ``deb`` or ``dsc``. For a source package ``filename`` is the .dsc and
    ``architecture`` is ``source``. ``stanza`` digests the index stanza the row came from.
    What comes from upstream's indices is ``Text``: Debian bounds no name, version or
    architecture, and a sync must not fail on a column's length.
    """

    __tablename__ = "package"
    __table_args__ = (
        Index("ix_package_range", "suite_id", "removed", "added"),
        Index("ix_package_name", "name"),
        Index("ix_package_filename", "filename"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suite.id"))
    component: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    architecture: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(SHA256)
    size: Mapped[int] = mapped_column(BigInteger)
    added: Mapped[int] = mapped_column(ForeignKey("repoversion.id"))
    removed: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)
    #: 64-bit digest of the index stanza, so a re-sync parses only stanzas that changed
    stanza: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SourceFile(Base):
    """A file that a source package lists (.dsc, .orig.tar.*, .debian.tar.*), with its pool path."""

    __tablename__ = "source_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("package.id"), index=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    sha256: Mapped[str] = mapped_column(SHA256)
    size: Mapped[int] = mapped_column(BigInteger)


class DerivedBlobs(Base):
    """Blobs generated once from immutable inputs (a version's signed Release, its
    packages.json) and shared by every node, so each node serves the same bytes."""

    __tablename__ = "derived"

    key_hash: Mapped[str] = mapped_column(SHA256, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    blobs: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Tag(Base):
    """A mutable name for a repoversion. ``moved`` dates the signed Release served under it."""

    __tablename__ = "tag"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    repoversion_id: Mapped[int] = mapped_column(ForeignKey("repoversion.id"))
    moved: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TagEvent(Base):
    """Tag history: every move and deletion (``repoversion_id`` NULL)."""

    __tablename__ = "tag_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), index=True)
    repoversion_id: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """Slow work run by a worker (a sync today), queued in this table (``repoversion.jobs``).

    ``state`` goes ``queued`` → ``running`` → ``succeeded`` or ``failed``. A running job
    belongs to ``worker`` until ``lease_until``; its worker renews the lease while it
    works, and once the lease has passed (the worker died) another worker takes the job
    again. ``attempts`` counts the takes, so a job that kills every worker is given up.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state", "state", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Token(Base):
    """An API token, stored as the SHA-256 of its secret."""

    __tablename__ = "token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(SHA256, unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OstreeExport(Base):
    """A deb committed to ostree: ``dpkg/data/<sha256>`` and ``dpkg/control/<sha256>``.

    ``dropped`` lists the entries ostree cannot hold (device nodes, FIFOs).
    """

    __tablename__ = "ostree_export"

    sha256: Mapped[str] = mapped_column(SHA256, primary_key=True)
    package: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    architecture: Mapped[str] = mapped_column(Text)
    data_commit: Mapped[str] = mapped_column(SHA256)
    control_commit: Mapped[str] = mapped_column(SHA256)
    dropped: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OstreeCompose(Base):
    """A root composed from a lockfile and committed to ``ref``; ``debs`` are the sha256s
    of the debs merged into it (GC keeps their exports while the compose is kept)."""

    __tablename__ = "ostree_compose"
    __table_args__ = (Index("ix_ostree_compose_ref", "ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(Text)
    commit: Mapped[str] = mapped_column(SHA256)
    repoversion_id: Mapped[int | None] = mapped_column(ForeignKey("repoversion.id"), nullable=True)
    debs: Mapped[list[str]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SigningKey(Base):
    """A public key the server has signed with; served at ``/keys`` until ``retired``."""

    __tablename__ = "signing_key"

    fingerprint: Mapped[str] = mapped_column(String(40), primary_key=True)
    public: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
