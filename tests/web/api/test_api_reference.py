"""docs/api-reference.md is the OpenAPI document the server serves, rendered."""

from __future__ import annotations

from pathlib import Path

from repoversion.web.api.reference import openapi_document, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "api-reference.md"


def test_api_reference_is_current() -> None:
    doc = openapi_document()
    page = render(doc)
    for path in doc["paths"]:
        assert f"`{path}`" in page
    assert DOC.read_text() == page, (
        "docs/api-reference.md is stale: run "
        "`.venv/bin/python -m repoversion.web.api.reference > docs/api-reference.md`"
    )
