"""A bounded schemathesis run over every operation of /api/v1/openapi.json.

Schemathesis generates requests from the document (valid ones and, for bodies and
parameters, invalid ones), sends them to the WSGI app over a synced home, and checks each
answer: never a 5xx, a status the document lists, a JSON body that matches the declared
schema. Operations that need a token get the admin one, so the run reaches their
validation and the domain behind it. Bounded: at most ``EXAMPLES`` requests per operation
and generation mode, derandomized (the same requests every run), no example database.
It runs on SQLite and on PostgreSQL, whose driver refuses what SQLite stores (a NUL).
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.api.conftest import Api

EXAMPLES = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_no_operation_answers_5xx_or_off_its_schema(
    make_api: Callable[..., Api], db_url: str
) -> None:
    api = make_api(db_url)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 27
    calls = 0
    for operation in operations:
        headers = {"Authorization": f"Bearer {api.admin}"} if operation.security else {}
        # path parameters are free strings: only a query or a body can be made invalid
        invalid = bool(len(operation.query) or operation.body)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[: 1 + invalid]:

            @BOUNDED
            @given(case=operation.as_strategy(mode))
            def run(case: schemathesis.Case, headers: dict[str, str]) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            run(headers=headers)
    # every operation was exercised, most of them many times
    assert calls > len(operations) * EXAMPLES
