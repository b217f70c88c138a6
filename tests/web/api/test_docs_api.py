"""docs/api.md lists exactly the operations of /api/v1/openapi.json, with their tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.web.api.conftest import Api

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ?(\w*) ?\|", re.M)


def _documented() -> dict[tuple[str, str], str]:
    return {(m, "/api/v1" + p): token for m, p, token in ROW.findall(DOC.read_text())}


def _declared(api: Api) -> dict[tuple[str, str], str]:
    doc: dict[str, Any] = api.ok("GET", "/openapi.json")
    out: dict[tuple[str, str], str] = {}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            view = api.app.view_functions[_endpoint(api, path, method)]
            token = getattr(view, "rv_scope", "") if "security" in operation else ""
            out[(method.upper(), path)] = token
    return out


def _endpoint(api: Api, path: str, method: str) -> str:
    rule = re.sub(r"\{(\w+)\}", lambda m: "<int:job_id>" if m[1] == "job_id" else f"<{m[1]}>", path)
    return next(
        r.endpoint
        for r in api.app.url_map.iter_rules()
        if r.rule == rule and method.upper() in (r.methods or ())
    )


def test_api_md_lists_every_operation_with_its_token(api: Api) -> None:
    declared = _declared(api)
    assert len(declared) == 27
    assert _documented() == declared
