"""Property-based fuzzing with authentication on (LIGHTRAG_API_KEY, WHITELIST_PATHS=/health).

The same approach as test_schemathesis.py (a real uvicorn server, the operations'
hypothesis strategies driven directly). Requests are generated *without* credentials: no
route may answer 5xx, and none but the public ones and the whitelist
may answer 2xx. A shorter run *with* the key checks that authenticated fuzzing finds no
5xx either.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve

KEY = "fuzz-api-key-8c3d1e77"
# Routes that answer without credentials: never-auth routes and the
# whitelist configured below. /docs and /openapi.json are not operations of the document.
PUBLIC = {("GET", "/auth-status"), ("POST", "/login"), ("GET", "/health")}
CREDENTIALS = {"x-api-key", "authorization"}


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer) -> Iterator[str]:
    app = create_app(fake_settings(tmp_path_factory.mktemp("fuzz_auth"), fake_llm_session,
                                   llm_max_retries=0, lightrag_api_key=KEY,
                                   whitelist_paths="/health"))
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(live_url: str):  # noqa: ANN201 - schemathesis' schema object
    return schemathesis.openapi.from_url(f"{live_url}/openapi.json")


def _operations(api_schema) -> list:  # noqa: ANN001
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    return operations


def test_no_protected_route_answers_2xx_without_credentials(api_schema) -> None:  # noqa: ANN001
    operations = _operations(api_schema)
    assert PUBLIC <= {(op.method.upper(), op.path) for op in operations}
    statuses: list[int] = []
    for operation in operations:
        _fuzz_without_credentials(operation, statuses)
    assert statuses.count(401) + statuses.count(403) > 100  # the guard refused, not only 422s


def _fuzz_without_credentials(operation, statuses: list[int]) -> None:  # noqa: ANN001
    public = (operation.method.upper(), operation.path) in PUBLIC

    @given(case=operation.as_strategy())
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        for name in [n for n in (case.headers or {}) if n.lower() in CREDENTIALS]:
            del case.headers[name]  # type: ignore[union-attr]
        response = case.call()
        statuses.append(response.status_code)
        shown = f"{case.method} {case.formatted_path} answered {response.status_code}"
        assert response.status_code < 500, f"{shown}: {response.text[:300]}"
        if not public:
            assert not 200 <= response.status_code < 300, f"{shown} without credentials"

    check()


def test_no_route_answers_500_with_the_key(api_schema) -> None:  # noqa: ANN001
    succeeded: set[str] = set()
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers={"X-API-Key": KEY})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
            if 200 <= response.status_code < 300:
                succeeded.add(case.path)

        check()
    assert len(succeeded) >= 15  # the key opened the protected routes
