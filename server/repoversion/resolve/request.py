"""What a user asks to resolve: ``PKG``, ``PKG=VERSION`` or ``PKG/SUITE``, for one architecture.

A request is checked here, before any database or apt work, so a typo costs one sentence
and nothing else. The forms are apt-get's own (``apt-get install hello=1.0-1``,
``apt-get install hello/bookworm-backports``); apt's patterns, regular expressions and
``:ARCH`` qualifiers are not accepted, since a lockfile names packages, not searches.

>>> Request.of(["build-essential", "hello=2.10-3", "curl/bookworm-security"], "amd64").to_json()
['build-essential', 'hello=2.10-3', 'curl/bookworm-security']
>>> Item.parse("hello*")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
repoversion.errors.InvalidInput: 'hello*' is not a package request: ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from repoversion.errors import InvalidInput

#: Debian policy 5.6.1 (package names, of any length as apt takes them) and 5.6.12
#: (versions: epoch, upstream, revision)
NAME_RE = re.compile(r"[a-z0-9][a-z0-9+.-]*")
VERSION_RE = re.compile(r"(?:[0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~-]*")
SUITE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*(?:/[A-Za-z0-9._+-]+)*")
ARCH_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
#: a request longer than this is a mistake, not a system
MAX_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class Item:
    """One requested package.

    :ivar name: the package (or virtual package) name.
    :ivar version: ``PKG=VERSION``: exactly this version.
    :ivar suite: ``PKG/SUITE``: the version from this suite (its Suite or Codename), and
        the dependencies it needs from there too, as apt does.
    """

    name: str
    version: str | None = None
    suite: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}={self.version}"
        if self.suite is not None:
            return f"{self.name}/{self.suite}"
        return self.name

    @classmethod
    def parse(cls, text: str) -> Item:
        """``NAME``, ``NAME=VERSION`` or ``NAME/SUITE``.

        :raises InvalidInput: anything else.
        """
        name, sep, version = text.partition("=")
        if sep:
            if NAME_RE.fullmatch(name) and VERSION_RE.fullmatch(version):
                return cls(name, version=version)
        else:
            name, sep, suite = text.partition("/")
            if NAME_RE.fullmatch(name) and (not sep or SUITE_RE.fullmatch(suite)):
                return cls(name, suite=suite if sep else None)
        raise InvalidInput(
            f"{text[:200]!r} is not a package request: write NAME, NAME=VERSION or NAME/SUITE."
        )


@dataclass(frozen=True, slots=True)
class Request:
    """Packages to install on an empty system of one architecture.

    :ivar items: in the order given (apt marks them in that order).
    :ivar architecture: a Debian architecture, e.g. ``amd64``.
    :ivar recommends: install Recommends too (apt's ``APT::Install-Recommends``).
    """

    items: tuple[Item, ...]
    architecture: str
    recommends: bool = False

    @classmethod
    def of(cls, packages: Sequence[str], architecture: str, recommends: bool = False) -> Request:
        """Parse and check a request.

        :param packages: the package requests, as typed.
        :param architecture: e.g. ``amd64``.
        :param recommends: install Recommends too.
        :raises InvalidInput: no packages, too many, a malformed one, or a bad architecture.
        """
        if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
            raise InvalidInput("The packages to resolve must be a list of names.")
        if not packages:
            raise InvalidInput("Name at least one package to resolve.")
        if len(packages) > MAX_ITEMS:
            raise InvalidInput(f"At most {MAX_ITEMS} packages can be resolved at once.")
        if not isinstance(architecture, str) or not ARCH_RE.fullmatch(architecture):
            raise InvalidInput(f"{str(architecture)[:100]!r} is not a Debian architecture.")
        return cls(tuple(Item.parse(p) for p in packages), architecture, bool(recommends))

    def to_json(self) -> list[str]:
        """The packages as given: a lockfile's ``request``."""
        return [str(item) for item in self.items]
