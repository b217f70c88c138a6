"""The import arrows docs/architecture.md draws, and the ones that must never exist.

Every ``import`` in ``server/repoversion`` is read (also those inside functions, which the
command line uses to start fast), so a forbidden arrow fails here, not in a review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "server" / "repoversion"


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _imports(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, absolute (``from . import x`` resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


GRAPH = {module: _imports(path, module) for module, path in _modules()}


def _under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _rv(name: str) -> str:
    return f"repoversion.{name}"


#: (who, what they must not import, why)
RULES = [
    (
        ["archive"],
        ["db", "storage", "versions", "mirror", "serving", "upstream", "web", "cli", "actions"],
        "Debian formats know no database, storage or HTTP",
    ),
    (["storage"], ["db", "versions", "mirror", "serving", "web", "cli"], "storage knows no rows"),
    (["db"], ["versions", "mirror", "serving", "upstream", "web", "cli"], "db is the bottom"),
    (["mirror", "web", "cli"], ["db"], "they go through versions/ and the domain modules"),
    (["versions"], ["mirror", "serving", "upstream", "web", "cli", "actions"], "versions is below"),
    (["upstream"], ["mirror", "serving", "versions", "web", "cli"], "upstream is below the sync"),
    (["mirror"], ["serving", "web", "cli"], "the sync does not serve"),
    (["serving"], ["mirror", "web", "cli"], "serving knows no sync and no Flask"),
    (["resolve"], ["db", "mirror", "serving", "web", "cli", "jobs"], "the resolver reads versions"),
    (["jobs"], ["web", "cli", "serving"], "jobs run domain work, whoever asked"),
    (["actions"], ["web", "cli"], "actions serve both entry points"),
    (
        ["ostree"],
        ["mirror", "jobs", "actions", "web", "cli"],
        "ostree exports what is stored; jobs and entry points call it",
    ),
    (
        ["export"],
        ["mirror", "jobs", "actions", "web", "cli"],
        "export writes what serving serves; actions and entry points call it",
    ),
    (
        ["integrity"],
        ["mirror", "jobs", "actions", "web", "cli"],
        "fsck checks the store against the rows; it syncs nothing",
    ),
    (
        ["retention"],
        ["mirror", "serving", "jobs", "actions", "web", "cli"],
        "gc marks and sweeps; the versions it drops are versions/'s to write",
    ),
]
DOMAIN = [m for m in GRAPH if not _under(m, _rv("cli"), _rv("web"))]


@pytest.mark.parametrize(("who", "forbidden", "why"), RULES, ids=[r[2] for r in RULES])
def test_no_forbidden_arrow(who: list[str], forbidden: list[str], why: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _under(module, *map(_rv, who))
        for target in targets
        if _under(target, *map(_rv, forbidden))
    )
    assert not bad, f"{why}:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("library", "home"),
    [
        ("flask", "web"),
        ("werkzeug", "web"),
        ("flask_openapi3", "web"),
        ("pydantic", "web"),
        ("click", "cli"),
        ("rich", "cli"),
        ("boto3", "storage.s3"),
        ("botocore", "storage.s3"),
    ],
)
def test_third_party_libraries_stay_in_their_package(library: str, home: str) -> None:
    bad = sorted(
        module
        for module, targets in GRAPH.items()
        if not _under(module, _rv(home)) and any(_under(t, library) for t in targets)
    )
    assert not bad, f"only repoversion.{home} may import {library}: {bad}"


def test_the_domain_imports_no_entry_point() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module in DOMAIN
        for target in GRAPH[module]
        if _under(target, _rv("cli"), _rv("web"))
    )
    assert not bad, "\n".join(bad)


def test_the_graph_is_read() -> None:
    """The checks above see real imports (a broken walker would pass them vacuously)."""
    assert _rv("versions.contents") in GRAPH[_rv("serving.service")]
    assert "click" in GRAPH[_rv("cli")]
    assert _rv("db.models") in GRAPH[_rv("versions.commit")]
