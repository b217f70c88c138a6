"""Opt-in checks against this machine's own Debian mirror (``make test-online``)."""

from tests.web.conftest import mirror, serve, server_key  # noqa: F401 - fixtures
