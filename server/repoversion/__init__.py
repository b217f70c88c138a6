"""repoversion: a versioned apt repository snapshot server."""

__version__ = "0.1.0"
