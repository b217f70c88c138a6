"""The objects one process works with, built once from :class:`Settings` and passed around.

The database layer is imported when it is first used, not with this module, so a command
that never reaches the database does not pay for importing SQLAlchemy.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from repoversion.archive.signing import Signer
    from repoversion.config import Settings
    from repoversion.storage.base import BlobStore


def make_engine(url: str) -> Engine:
    """:func:`repoversion.db.session.make_engine`, imported when the first engine is made."""
    from repoversion.db import session

    return session.make_engine(url)


class Context:
    """Settings plus lazily opened database, blob store and signer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._checked = False

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory; the first use checks the schema is at alembic's head."""
        if not self._checked:
            from repoversion.db.session import check_schema

            check_schema(self.engine)
            self._checked = True
        return self._sessions

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        from repoversion.db.session import make_sessionmaker

        return make_sessionmaker(self.engine)

    @cached_property
    def store(self) -> BlobStore:
        from repoversion.storage import open_store

        s = self.settings
        return open_store(s.storage_url, s3_endpoint_url=s.s3_endpoint_url, s3_region=s.s3_region)

    @cached_property
    def signer(self) -> Signer:
        from repoversion.archive.signing import Signer

        return Signer(self.settings.signing_key_path)

    def close(self) -> None:
        """Release what was opened: database connections, the signer's gpg-agent."""
        if "signer" in self.__dict__:
            self.signer.close()
        if "engine" in self.__dict__:
            self.engine.dispose()
