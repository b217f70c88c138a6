"""Why apt could not install a request, as one sentence naming the chain that breaks.

apt-get says "x : Depends: a but it is not going to be installed" and stops there. This
follows the chain down from a requested package, through the dependencies that are not
installed, to the first one nothing can satisfy (or a conflict), as in "Cannot install x:
x depends on a, a depends on b (>= 2) but only b 1.0 is available." It reads the
DepCache apt left broken (in the throwaway copy the resolution ran in) and marks nothing.
"""

from __future__ import annotations

from typing import Any

from repoversion.resolve.solve import CRITICAL, Selected

_NEGATIVE = ("Conflicts", "Breaks")
#: a chain longer than this is cut (apt's own MarkInstall gives up at depth 3000)
_MAX_DEPTH = 50


def explain(dc: Any, selected: list[Selected]) -> str:
    """The sentence for a request apt left broken."""
    possible: dict[int, bool] = {}
    for s in selected:
        chain = _why(dc, s.pkg, s.ver, possible, 0)
        if chain:
            return f"Cannot install {s.item}: {', '.join(chain)}."
    for s in selected:
        clash = _clash(dc, s.pkg, s.ver, possible)
        if clash:
            return f"Cannot install {s.item}: {clash}."
    names = ", ".join(str(s.item) for s in selected)
    return f"apt cannot install {names}: the dependencies conflict with each other."


def _why(dc: Any, pkg: Any, ver: Any, possible: dict[int, bool], depth: int) -> list[str] | None:
    """The links from ``pkg`` down to a dependency nothing can satisfy, or None."""
    if depth > _MAX_DEPTH:
        return None
    for kind, group in _groups(ver, CRITICAL):
        targets = [t for dep in group for t in dep.all_targets()]
        link = f"{pkg.name} {_verb(kind)} {_group(group)}"
        marked = [t for t in targets if _installing(dc, t)]
        if marked:
            if any(not dc.is_inst_broken(t.parent_pkg) for t in marked):
                continue  # satisfied by a package that is fine
            below = _why(dc, marked[0].parent_pkg, marked[0], possible, depth + 1)
            if below:
                return [link, *below]
            continue
        if not targets:
            return [f"{link} but {_available(group[0])}"]
        if any(_possible(t, possible) for t in targets):
            continue  # apt could install it: not where the chain breaks
        below = _why(dc, targets[0].parent_pkg, targets[0], possible, depth + 1)
        return [link, *below] if below else [f"{link} but it cannot be installed"]
    return None


def _clash(dc: Any, pkg: Any, ver: Any, possible: dict[int, bool]) -> str | None:
    """A conflict that keeps a dependency of ``pkg`` (or ``pkg`` itself) out."""
    found = _conflict(dc, pkg, ver)
    if found:
        return found
    for kind, group in _groups(ver, CRITICAL):
        targets = [t for dep in group for t in dep.all_targets()]
        if targets and not any(_installing(dc, t) for t in targets):
            for target in targets:
                found = _conflict(dc, target.parent_pkg, target)
                if found:
                    return f"{pkg.name} {_verb(kind)} {_group(group)}, {found}"
            link = f"{pkg.name} {_verb(kind)} {_group(group)}"
            return f"{link} but it cannot be installed with the rest"
    return None


def _groups(ver: Any, kinds: tuple[str, ...]) -> list[tuple[str, list[Any]]]:
    deps = ver.depends_list
    return [(kind, group) for kind in kinds for group in deps.get(kind, ())]


def _possible(ver: Any, memo: dict[int, bool]) -> bool:
    """Whether every critical dependency of ``ver`` has some version that is itself
    possible, conflicts aside (a cycle counts as possible)."""
    if ver.id in memo:
        return memo[ver.id]
    memo[ver.id] = True
    try:
        ok = all(
            any(_possible(t, memo) for dep in group for t in dep.all_targets())
            for _, group in _groups(ver, CRITICAL)
        )
    except RecursionError:
        ok = True
    memo[ver.id] = ok
    return ok


def _installing(dc: Any, ver: Any) -> bool:
    pkg = ver.parent_pkg
    candidate = dc.get_candidate_ver(pkg)
    return bool(dc.marked_install(pkg)) and candidate is not None and candidate.id == ver.id


def _conflict(dc: Any, pkg: Any, ver: Any) -> str | None:
    """A Conflicts or Breaks between ``ver`` and a version being installed, either way."""
    for kind, group in _groups(ver, _NEGATIVE):
        for dep in group:
            for target in dep.all_targets():
                if target.parent_pkg.id != pkg.id and _installing(dc, target):
                    return f"{pkg.name} {_clashes(kind)} {_dep(dep)}"
    for dep in pkg.rev_depends_list:
        kind = dep.dep_type_untranslated
        if kind not in _NEGATIVE or dep.parent_pkg.id == pkg.id:
            continue
        if _installing(dc, dep.parent_ver) and any(t.id == ver.id for t in dep.all_targets()):
            return f"{dep.parent_pkg.name} {_clashes(kind)} {_dep(dep)}"
    return None


def _clashes(kind: str) -> str:
    return "conflicts with" if kind == "Conflicts" else "breaks"


def _verb(kind: str) -> str:
    return "pre-depends on" if kind == "PreDepends" else "depends on"


def _dep(dep: Any) -> str:
    name = dep.target_pkg.name
    if dep.target_ver:
        return f"{name} ({dep.comp_type} {dep.target_ver})"
    return name


def _group(group: list[Any]) -> str:
    return " | ".join(_dep(d) for d in group)


def _available(dep: Any) -> str:
    """Why no version of ``dep``'s package satisfies it."""
    target = dep.target_pkg
    versions = [v.ver_str for v in target.version_list]
    if versions:
        verb = "is" if len(versions) == 1 else "are"
        return f"only {target.name} {', '.join(versions)} {verb} available"
    if target.has_provides:
        return f"no package provides {_dep(dep)}"
    return f"{target.name} is not available"
