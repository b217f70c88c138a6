"""docs/api-reference.md, rendered from the OpenAPI document the server serves.

Every operation with its parameters, body and answers, then every schema with its fields:
the reference is the document itself, made readable, so it cannot say what the server
does not do. ``tests/web/api/test_api_reference.py`` fails when the file is stale::

    .venv/bin/python -m repoversion.web.api.reference > docs/api-reference.md
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HEADER = """# API reference

Generated from `/api/v1/openapi.json` by `python -m repoversion.web.api.reference`;
do not edit by hand. docs/api.md explains the API; this page lists it.
Every answer that is not 2xx is an `Error`: `{"code", "message"}`.
"""
METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    """The document a server built from default settings serves."""
    from repoversion.config import load_settings
    from repoversion.web.app import create_app

    with tempfile.TemporaryDirectory() as home:
        app = create_app(load_settings(Path(home), environ={}))
        doc: dict[str, Any] = app.api_doc  # type: ignore[attr-defined]
        return doc


def render(doc: dict[str, Any]) -> str:
    """The Markdown page for ``doc``."""
    lines = [HEADER]
    for path, operations in doc["paths"].items():
        for method in METHODS:
            if method in operations:
                lines += _operation(method, path, operations[method])
    lines.append("## Schemas\n")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def _operation(method: str, path: str, op: dict[str, Any]) -> Iterator[str]:
    yield f"## {method.upper()} `{path}`\n"
    yield op.get("summary", "").strip() + "\n"
    description = op.get("description", "").replace("<br/>", "").strip()
    if description:
        yield description + "\n"
    if "security" in op:
        yield "Needs a token (`Authorization: Bearer …`).\n"
    params = op.get("parameters", [])
    if params:
        yield "| parameter | in | type | required | description |"
        yield "| --- | --- | --- | --- | --- |"
        for p in params:
            kind = _type(p.get("schema", {}))
            need = "yes" if p.get("required") else "no"
            yield f"| `{p['name']}` | {p['in']} | {kind} | {need} | {_cell(p.get('description'))} |"
        yield ""
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        yield f"Body: {_type(body['schema'])}\n"
    yield "| status | answer |"
    yield "| --- | --- |"
    for status, answer in sorted(op.get("responses", {}).items()):
        content = answer.get("content", {})
        kinds = ", ".join(
            f"{_type(c['schema'])} ({mime})" if "schema" in c else mime
            for mime, c in content.items()
        )
        yield f"| {status} | {_cell(answer.get('description'))}{': ' + kinds if kinds else ''} |"
    yield ""


def _schema(name: str, schema: dict[str, Any]) -> Iterator[str]:
    yield f"### {name}\n"
    description = (schema.get("description") or "").strip()
    if description:
        yield description + "\n"
    props = schema.get("properties", {})
    if not props:
        yield f"{_type(schema)}\n"
        return
    required = set(schema.get("required", []))
    yield "| field | type | required | description |"
    yield "| --- | --- | --- | --- |"
    for field, spec in props.items():
        need = "yes" if field in required else "no"
        yield f"| `{field}` | {_type(spec)} | {need} | {_cell(spec.get('description'))} |"
    yield ""


def _type(spec: dict[str, Any]) -> str:
    """A schema fragment in a few words: ``Version``, ``list of Package``, ``string or null``.

    >>> _type({"anyOf": [{"type": "string"}, {"type": "null"}]})
    'string or null'
    >>> _type({"type": "array", "items": {"$ref": "#/components/schemas/Tag"}})
    'list of [Tag](#tag)'
    """
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in spec:
            return " or ".join(_type(s) for s in spec[key])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and "additionalProperties" in spec:
        extra = spec["additionalProperties"]
        return f"map of {_type(extra) if isinstance(extra, dict) else 'any'}"
    if "enum" in spec:
        return " \\| ".join(f"`{v}`" for v in spec["enum"])
    return str(kind)


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def main() -> None:
    sys.stdout.write(render(openapi_document()))


if __name__ == "__main__":
    main()
