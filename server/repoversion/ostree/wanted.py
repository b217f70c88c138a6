"""Which debs an export asks for: packages of a repoversion, or a lockfile's packages.

Each becomes a :class:`~repoversion.ostree.export.DebRef` that also says where upstream
has the file (archive, pool path, the archive's URL as the version recorded it), so one
not stored yet is fetched through as ``/v/`` would fetch it.

>>> parse_request("hello"), parse_request("libc6:amd64=2.36-9")
(('hello', None, None), ('libc6', 'amd64', '2.36-9'))
"""

from __future__ import annotations

import re
from typing import Any

from repoversion.context import Context
from repoversion.db.session import transaction
from repoversion.errors import InvalidInput, NotFound
from repoversion.ostree.export import DebRef
from repoversion.resolve import lockfile as lockfiles
from repoversion.serving.materialize import plan
from repoversion.versions.contents import packages_of
from repoversion.versions.refs import read_index, resolve_ref

_REQUEST = re.compile(r"([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?(?:=(\S+))?")


def parse_request(text: str) -> tuple[str, str | None, str | None]:
    """``NAME[:ARCH][=VERSION]`` as (name, architecture, version).

    :raises InvalidInput: it is not of that form.
    """
    match = _REQUEST.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{text!r} is not a package name (NAME[:ARCH][=VERSION]).")
    name, arch, version = match.groups()
    return name, arch, version


def debs_of_packages(ctx: Context, ref: str, requests: list[str]) -> list[DebRef]:
    """The debs of repoversion ``ref`` that ``requests`` name (every architecture and
    suite holding the package, unless narrowed).

    :raises NotFound: ``ref`` names no version, or a request matches no binary package.
    :raises InvalidInput: a request is malformed, or none is given.
    """
    if not requests:
        raise InvalidInput("Name at least one package to export.")
    parsed = [parse_request(r) for r in requests]
    with transaction(ctx.sessions) as s:
        version = resolve_ref(s, ref)
        urls = {n: a["url"] for n, a in read_index(ctx.store, version)["archives"].items()}
        debs: list[DebRef] = []
        for text, (name, arch, wanted) in zip(requests, parsed, strict=True):
            rows = [
                p
                for _, p in packages_of(s, version.id, name=name, arch=arch)
                if p["architecture"] != "source" and wanted in (None, p["version"])
            ]
            if not rows:
                raise NotFound(f"Repoversion {version.version} has no binary package {text}.")
            debs += [
                DebRef(p["sha256"], p["size"], p["archive"], p["filename"], urls.get(p["archive"]))
                for p in rows
            ]
    return debs


def debs_of_lockfile(ctx: Context, lock: Any) -> list[DebRef]:
    """The debs a lockfile lists, each checked against its repoversion.

    :raises InvalidInput: not a lockfile, or it lists a file its version does not hold.
    :raises NotFound: its repoversion is unknown.
    """
    checked = lockfiles.check(lock)
    _, wanted = plan(ctx, checked["repoversion"], checked)
    by_sha = {
        w.target.sha256: DebRef(
            w.target.sha256, w.target.size, w.target.archive, w.target.upstream[0], w.url
        )
        for w in wanted
    }
    # in the lockfile's order (its packages' order is apt's installation order)
    return [by_sha[p["sha256"]] for p in checked["packages"] if p["sha256"] in by_sha]
