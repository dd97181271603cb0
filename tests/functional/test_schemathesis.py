"""Property-based API fuzzing: no route answers 500, whatever the OpenAPI-valid or invalid input.

schemathesis reads the served OpenAPI document and generates requests for every
operation, against a real uvicorn server on a free port (the LLM is the fake one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer) -> Iterator[str]:
    app = create_app(fake_settings(tmp_path_factory.mktemp("fuzz"), fake_llm_session, llm_max_retries=0))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(live_url: str):  # noqa: ANN201 - schemathesis' schema object
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


def test_no_route_answers_500(api_schema) -> None:  # noqa: ANN001
    """Every operation, 25 generated requests each; any 5xx fails with the request shown.

    (schemathesis' own pytest plugin does not load under pytest 9, so the operations'
    hypothesis strategies are driven directly.)
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )

        check()
