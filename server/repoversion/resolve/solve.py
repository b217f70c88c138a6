"""``apt-get install PKG…`` from an empty system, step by step, on a DepCache.

What apt 2.6's ``apt-get install`` does (``apt-private/private-install.cc``), in its order:

1. each argument becomes a version (``CacheSetHelperAPTGet``): the candidate, the version
   ``PKG=VERSION`` names, or the one from the suite ``PKG/SUITE`` names; a virtual
   package becomes its only provider, and one with several providers is an error;
2. for each, in the order given: make it the candidate, protect it in the problem
   resolver, ``MarkInstall(pkg, AutoInst=false)``;
3. for ``PKG/SUITE``: switch the dependencies' candidates to that suite where needed
   (``SetCandidateRelease``);
4. ``MarkInstall(pkg, AutoInst=true)`` for each, in package order;
5. the problem resolver, which changes nothing when nothing is broken (its passes only
   touch broken or installed packages: there are none), so it runs only then.

The result is every package marked for installation, which is what ``apt-get install -s``
prints as ``Inst`` lines. Everything here marks packages: it runs in a throwaway copy of
the process (:func:`repoversion.resolve.aptcache.in_copy`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from repoversion.errors import InvalidInput
from repoversion.resolve.request import Item
from repoversion.resolve.tree import AptTree

#: the dependencies apt installs (and follows for a lockfile's ``depends``)
CRITICAL = ("PreDepends", "Depends")
#: what apt's autoremover counts as needed (RecommendsImportant, SuggestsImportant)
KEPT_BY = ("PreDepends", "Depends", "Recommends", "Suggests")
#: providers named in the message about a virtual package
MAX_LISTED = 10


class Unresolvable(InvalidInput):
    """apt cannot install the request: an unknown package, a missing version, a conflict."""

    code = "unresolvable"


@dataclass(frozen=True)
class Selected:
    """A requested version, and the suite it was asked from (``PKG/SUITE``)."""

    item: Item
    pkg: Any
    ver: Any
    suite: str | None = None


def select(cache: Any, dc: Any, items: Iterable[Item], where: str) -> list[Selected]:
    """The versions the request names, as apt-get picks them (duplicates dropped).

    :param where: names the version and architecture in messages.
    :raises Unresolvable: a package or version that does not exist, or a virtual package
        without exactly one provider.
    """
    out: list[Selected] = []
    seen: set[int] = set()
    for item in items:
        if item.name not in cache:
            raise Unresolvable(f"No package {item.name} in {where}.")
        chosen = _select_one(dc, item, cache[item.name], where)
        if chosen.ver.id not in seen:
            seen.add(chosen.ver.id)
            out.append(chosen)
    return out


def _select_one(dc: Any, item: Item, pkg: Any, where: str) -> Selected:
    if item.version is not None:
        for ver in pkg.version_list:
            if ver.ver_str == item.version:
                return Selected(item, pkg, ver)
        provider = _provider(dc, item, pkg, where, lambda prv, _v: prv[1] == item.version)
        if provider is None:
            known = ", ".join(v.ver_str for v in pkg.version_list) or "none"
            raise Unresolvable(
                f"{item.name} has no version {item.version} in {where} (it has: {known})."
            )
        return provider
    if item.suite is not None:
        for ver in pkg.version_list:
            if any(_in_suite(pf, item.suite) for pf, _ in ver.file_list):
                return Selected(item, pkg, ver, item.suite)
        suite = item.suite
        provider = _provider(
            dc, item, pkg, where, lambda _p, v: any(_in_suite(f, suite) for f, _ in v.file_list)
        )
        if provider is None:
            raise Unresolvable(f"{item.name} is not in suite {suite} of {where}.")
        return Selected(item, provider.pkg, provider.ver, item.suite)
    candidate = dc.get_candidate_ver(pkg)
    if candidate is not None:
        return Selected(item, pkg, candidate)
    provider = _provider(dc, item, pkg, where, lambda _p, v: _is_candidate(dc, v))
    if provider is None:
        raise Unresolvable(f"{item.name} has no installation candidate in {where}.")
    return provider


def _in_suite(pf: Any, suite: str) -> bool:
    # apt's pkgVersionMatch: a release starting with a digit is a Release's Version
    if suite[:1].isdigit():
        return bool(pf.version == suite)
    return suite in (pf.archive, pf.codename)


def _is_candidate(dc: Any, ver: Any) -> bool:
    candidate = dc.get_candidate_ver(ver.parent_pkg)
    return candidate is not None and candidate.id == ver.id


def _provider(dc: Any, item: Item, pkg: Any, where: str, matches: Any) -> Selected | None:
    """The one package providing the virtual ``pkg`` (apt's ``tryVirtualPackage``).

    :raises Unresolvable: several packages provide it.
    """
    found: dict[str, Any] = {}
    for prv in pkg.provides_list:
        ver = prv[2]
        if matches(prv, ver):
            found.setdefault(ver.parent_pkg.name, ver)
    if len(found) > 1:
        listed = [f"{n} {v.ver_str}" for n, v in sorted(found.items())]
        if len(listed) > MAX_LISTED:
            listed[MAX_LISTED:] = [f"and {len(listed) - MAX_LISTED} more"]
        names = ", ".join(listed)
        raise Unresolvable(
            f"{item.name} is a virtual package provided by several packages in {where} "
            f"({names}): name the one to install, as apt-get asks."
        )
    if not found:
        return None
    ver = next(iter(found.values()))
    if item.version is not None or item.suite is not None:
        dc.set_candidate_ver(ver.parent_pkg, ver)
    return Selected(item, ver.parent_pkg, ver)


def install(dc: Any, selected: list[Selected]) -> bool:
    """Mark ``selected`` for installation as apt-get does; True when nothing is broken."""
    import apt_pkg

    fix = apt_pkg.ProblemResolver(dc)
    for s in selected:
        dc.set_candidate_ver(s.pkg, s.ver)
        fix.clear(s.pkg)
        fix.protect(s.pkg)
        dc.mark_install(s.pkg, False, True)
    by_suite = [s for s in selected if s.suite is not None]
    for s in by_suite:
        dc.set_candidate_ver(s.pkg, s.ver)
    for s in by_suite:
        dc.set_candidate_release(s.pkg, s.ver, s.suite)
    for s in sorted(selected, key=lambda s: s.pkg.id):
        dc.mark_install(s.pkg, True, True)
    if dc.broken_count:
        # "Unable to correct problems": explain() says which
        with contextlib.suppress(SystemError):
            fix.resolve(True)
    return dc.broken_count == 0


def _targets(ver: Any, kinds: Iterable[str]) -> Iterator[Any]:
    deps = ver.depends_list
    for kind in kinds:
        for group in deps.get(kind, ()):
            for dep in group:
                yield from dep.all_targets()


def _installing(dc: Any, target: Any) -> bool:
    pkg = target.parent_pkg
    if not dc.marked_install(pkg):
        return False
    candidate = dc.get_candidate_ver(pkg)
    return candidate is not None and candidate.id == target.id


def installed(
    cache: Any, dc: Any, selected: list[Selected], sweep: Callable[[], None]
) -> list[tuple[Any, Any]]:
    """Every (package, version) marked for installation.

    Walked from the requested packages along what apt's autoremover keeps: when that
    reaches all of apt's installations, none is garbage. Otherwise (a package the
    resolver installed for something it then dropped) apt-get drops the garbage new
    installations (``DoAutomaticRemove``), and so does this, after apt's own
    ``MarkAndSweep``.

    :param sweep: releases the DepCache's action group, which runs ``MarkAndSweep``.
    """
    found: dict[int, tuple[Any, Any]] = {}
    todo = [s.pkg for s in selected]
    while todo:
        pkg = todo.pop()
        if pkg.id in found or not dc.marked_install(pkg):
            continue
        ver = dc.get_candidate_ver(pkg)
        found[pkg.id] = (pkg, ver)
        todo.extend(t.parent_pkg for t in _targets(ver, KEPT_BY) if _installing(dc, t))
    if len(found) == dc.inst_count:
        return list(found.values())
    sweep()
    garbage = [p for p in cache.packages if dc.marked_install(p) and dc.is_garbage(p)]
    for pkg in garbage:
        dc.mark_delete(pkg, False)
    return [(p, dc.get_candidate_ver(p)) for p in cache.packages if dc.marked_install(p)]


def entries(
    cache: Any, tree: AptTree, chosen: list[tuple[Any, Any]], recommends: bool
) -> list[dict[str, Any]]:
    """The lockfile's package entries (without ``url`` and ``ostree``), from the records
    of the index apt took each version from.

    :param recommends: list Recommends among the ``depends`` too.
    """
    import apt_pkg

    records = apt_pkg.PackageRecords(cache)
    versions = {pkg.id: ver.id for pkg, ver in chosen}
    kinds = (*CRITICAL, "Recommends") if recommends else CRITICAL
    out = []
    for pkg, ver in chosen:
        pf, index = _index_file(tree, ver)
        records.lookup((pf, index))
        sha256 = records.hashes.find("SHA256")
        archive, suite, component = tree.origins[os.path.basename(pf.filename)]
        depends = {
            t.parent_pkg.name
            for t in _targets(ver, kinds)
            if versions.get(t.parent_pkg.id) == t.id and t.parent_pkg.id != pkg.id
        }
        out.append(
            {
                "name": pkg.name,
                "version": ver.ver_str,
                "architecture": ver.arch,
                "archive": archive,
                "suite": suite,
                "component": component,
                "filename": records.filename,
                "sha256": sha256.hashvalue if sha256 is not None else "",
                "size": ver.size,
                "depends": sorted(depends),
            }
        )
    return out


def _index_file(tree: AptTree, ver: Any) -> tuple[Any, int]:
    """The first index apt lists the version in (the one ``apt-get download`` uses)."""
    for pf, index in ver.file_list:
        if os.path.basename(pf.filename) in tree.origins:
            return pf, index
    raise InvalidInput(f"{ver.parent_pkg.name} {ver.ver_str} is in no index of the version.")
