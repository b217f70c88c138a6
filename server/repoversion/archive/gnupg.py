"""Private GnuPG homes: every gpg run here gets its own, so the user's keyrings and agent
are never touched, and each home is removed with its gpg-agent when done."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def new_home(prefix: str = "repoversion-gnupg-") -> Path:
    """A fresh, private (0700) GnuPG home; the caller removes it with :func:`remove_home`."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o700)
    return home


def remove_home(home: Path) -> None:
    """Stop the gpg-agent of ``home`` (if one started) and delete the directory."""
    if home.exists():
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False
        )
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def temporary_home(prefix: str = "repoversion-gnupg-") -> Iterator[Path]:
    """A private GnuPG home for the ``with`` block."""
    home = new_home(prefix)
    try:
        yield home
    finally:
        remove_home(home)
