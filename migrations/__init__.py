"""Alembic migrations; a wheel installs this directory as ``repoversion.migrations``."""
