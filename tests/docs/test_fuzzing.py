"""Schemathesis, driven by the served document, against the app in-process (WSGI).

With a key holding every ability: no server error and no response that breaks its
documented schema (status, content type, headers, body). Without a key: only documented
401s. The schema is loaded eagerly with ``schemathesis.openapi.from_wsgi`` (no
``from_fixture``, which pytest 9.2 breaks) and each operation is driven by Hypothesis
through ``operation.as_strategy()``, so the run uses this test's ``app`` on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.docs.docs_helpers import OPERATION_COUNT

# Both databases: fuzzed list arguments reach each engine's SQL (integer and date ranges).
pytestmark = pytest.mark.both_databases

# Examples per operation and mode: (6 + 3 + 2) requests per operation and database.
POSITIVE_EXAMPLES = 6
NEGATIVE_EXAMPLES = 3
EXISTING_RECORD_EXAMPLES = 2


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Room for every refused request of the run: past the address's failed-attempt budget
    every failure is a 429 (tested in tests/api), which is not what these checks are about."""
    return {**app_config, "API_AUTH_FAILURE_LIMIT": "100000/minute"}


def fuzz_settings(examples: int) -> settings:
    """Bounded, repeatable Hypothesis settings: no example database, no shrinking phase."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def load_operations(app: Any) -> list[Any]:
    """Every operation of the document the app serves, ready to generate cases."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)
    return [result.ok() for result in results]


def without_generated_credentials(case: Any) -> Any:
    """Drop the random credentials schemathesis draws for the security schemes."""
    for name in ("X-API-Key", "Authorization"):
        if case.headers:
            case.headers.pop(name, None)
    return case


def with_a_valid_cursor(case: Any) -> Any:
    """A cursor is opaque and signed: the only one a generator can make up is "" (the first
    page), and ``cursor`` with ``page`` is refused, a rule OpenAPI 3.0 cannot state. Positive
    cases keep cursor mode, with those two facts applied; negative cases keep their garbage."""
    if case.query and "cursor" in case.query:
        case.query["cursor"] = ""
        case.query.pop("page", None)
    return case


def run(operation: Any, check: Any, examples: int, **strategy: Any) -> None:
    """Generate cases for one operation (``strategy`` goes to ``as_strategy``) and check each."""

    @fuzz_settings(examples)
    @given(case=operation.as_strategy(**strategy))
    def examine(case: Any) -> None:
        check(case)

    examine()


def test_fuzzing_with_a_full_key_finds_no_server_error_or_schema_break(app, all_abilities_key, seeded):
    """Every operation, valid and invalid queries and ids: answers conform to the document."""
    # identity: schemathesis's in-process (WSGI) transport hands the body over undecoded, so a
    # gzip answer (tested in tests/api/test_api_sync.py) would read as binary garbage.
    headers = {"X-API-Key": all_abilities_key.raw_key, "Accept-Encoding": "identity"}
    statuses: dict[int, int] = {}

    def check(case: Any) -> None:
        response = without_generated_credentials(case).call_and_validate(headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    operations = load_operations(app)
    assert len(operations) == OPERATION_COUNT
    for operation in operations:
        run(operation, lambda case: check(with_a_valid_cursor(case)), POSITIVE_EXAMPLES)
        run(operation, check, NEGATIVE_EXAMPLES, generation_mode=GenerationMode.NEGATIVE)
        if "{id}" in operation.path:
            # Random ids mostly miss; id 1 exists in every seeded module, so real records
            # of every module are checked against their documented schema too.
            run(operation, check, EXISTING_RECORD_EXAMPLES, path_parameters={"id": 1})
    assert statuses.get(200, 0) >= OPERATION_COUNT
    assert not any(status >= 500 for status in statuses)


def test_fuzzing_without_a_key_gets_only_documented_401s(app, seeded):
    """No credentials at all: every generated request is a 401 the document describes."""
    statuses: list[int] = []

    def check(case: Any) -> None:
        response = without_generated_credentials(case).call()
        statuses.append(response.status_code)
        assert response.status_code == 401, response.get_data(as_text=True)
        case.validate_response(response)

    for operation in load_operations(app):
        run(operation, check, POSITIVE_EXAMPLES)
    assert statuses and set(statuses) == {401}
