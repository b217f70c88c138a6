"""The HTTP side: a Flask app factory. Only this package imports Flask."""

from repoversion.web.app import create_app

__all__ = ["create_app"]
