"""A store's 404, 409, 429 and throttling never become a 500.

Each adapter turns its backend's native errors into what they mean (empty, conflict,
back off, unavailable), and the API answers those in words: 409 for a lost concurrent
write, 503 with ``Retry-After`` naming the store otherwise, on every route family.
The native errors are built exactly as the client libraries raise them, because a local
server cannot be made to throttle on demand.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import Settings
from lambdarag.storage.base import (
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VersionConflictError,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, workspace


def client_error(code: str, message: str = "boom") -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "Query")


@pytest.mark.parametrize(("code", "kind"), [
    ("ProvisionedThroughputExceededException", StoreThrottledError),
    ("ThrottlingException", StoreThrottledError),
    ("RequestLimitExceeded", StoreThrottledError),
    ("TransactionConflictException", VersionConflictError),
    ("ResourceNotFoundException", StoreUnavailableError),
    ("InternalServerError", StoreUnavailableError),
    ("ValidationException", StorageError),
])
def test_dynamodb_errors_say_what_they_mean(code: str, kind: type[Exception]) -> None:
    from lambdarag.storage.dynamodb.table import translate

    error = translate(client_error(code), "lambdarag-prod")
    assert type(error) is kind
    assert "lambdarag-prod" in str(error) and code in str(error)


@pytest.mark.parametrize(("status", "body", "kind"), [
    (429, {"error": {"type": "rejected_execution_exception", "reason": "queue full"}},
     StoreThrottledError),
    (409, {"error": {"type": "version_conflict_engine_exception", "reason": "conflict"}},
     VersionConflictError),
    (503, {"error": {"type": "no_shard_available_action_exception", "reason": "none"}},
     StoreUnavailableError),
    (400, {"error": {"type": "illegal_argument_exception", "reason": "bad"}}, StorageError),
])
def test_opensearch_errors_say_what_they_mean(
    status: int, body: dict[str, Any], kind: type[Exception]
) -> None:
    from opensearchpy.exceptions import HTTP_EXCEPTIONS, TransportError

    from lambdarag.storage.opensearch.client import error_type, translate

    # the async connection passes the raw body, unparsed, as the message
    native = HTTP_EXCEPTIONS.get(status, TransportError)(status, json.dumps(body), None)
    error = translate(native, "http://search:9200", "search on idx")
    assert type(error) is kind
    assert body["error"]["type"] in str(error) and "search on idx" in str(error)
    assert error_type(native) == body["error"]["type"]


class _GremlinError(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(f"499: {text}")
        self.status_attributes = {"exceptions": [text]}


@pytest.mark.parametrize(("text", "kind"), [
    ("ConcurrentModificationException", VersionConflictError),
    ("ThrottlingException", StoreThrottledError),
    ("MemoryLimitExceededException", StoreThrottledError),
    ("ReadOnlyViolationException", StoreUnavailableError),
    ("MalformedQueryException", StorageError),
])
async def test_neptune_errors_after_the_retries_say_what_they_mean(
    text: str, kind: type[Exception]
) -> None:
    from lambdarag.storage.neptune.connection import GremlinRunner, NeptuneConfig

    config = NeptuneConfig(url="ws://neptune:8182/gremlin", max_retries=2, backoff_base=0.0)
    runner = GremlinRunner(config, connection_factory=lambda _: object())
    calls = []

    def traversal(_g: Any) -> None:
        calls.append(1)
        raise _GremlinError(text)

    with pytest.raises(kind, match="ws://neptune:8182/gremlin"):
        await runner.run(traversal)
    retried = text != "MalformedQueryException"
    assert len(calls) == (config.max_retries + 1 if retried else 1)


# --------------------------------------------------------------------------- over HTTP

FAILURES = {
    "throttled": (StoreThrottledError("DynamoDB table lr-prod is throttling requests"), 503),
    "unavailable": (StoreUnavailableError("OpenSearch at http://search:9200 is unreachable"), 503),
    "conflict": (VersionConflictError("Gremlin endpoint ws://neptune failed: concurrent"), 409),
    "other": (StorageError("OpenSearch search failed at http://search:9200: 400 bad"), 503),
}


@pytest.fixture
def settings(tmp_path: Path, fake_llm: FakeLLMServer) -> Settings:
    return fake_settings(tmp_path, fake_llm)


@pytest.fixture
def failing(settings: Settings) -> Iterator[tuple[TestClient, dict[str, Exception]]]:
    """An app whose stores raise ``current["error"]`` from every read the routes make."""
    current: dict[str, Exception] = {}
    with TestClient(create_app(settings)) as client:
        ws = workspace(client)

        async def fail(*_: Any, **__: Any) -> Any:
            raise current["error"]

        for store, method in [(ws.stores.graph, "all_labels"), (ws.stores.graph, "subgraph"),
                              (ws.stores.doc_status, "page"), (ws.stores.chunks_vdb, "query"),
                              (ws.stores.entities_vdb, "query")]:
            setattr(store, method, fail)
        yield client, current


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_store_failures_answer_in_words_on_every_route_family(
    failing: tuple[TestClient, dict[str, Exception]], failure: str
) -> None:
    client, current = failing
    error, status = FAILURES[failure]
    current["error"] = error
    # GIVEN a store failing with `error` WHEN each route family reads from it
    calls = {
        "/graph/label/list": client.get("/graph/label/list"),
        "/graphs": client.get("/graphs", params={"label": "*"}),
        "/documents/paginated": client.post("/documents/paginated", json={}),
        "/query/data": client.post("/query/data", json={"query": "Who is Nova?", "mode": "naive"}),
        "/api/chat": client.post("/api/chat", json={
            "model": "lightrag:latest", "stream": False,
            "messages": [{"role": "user", "content": "/naive Who is Nova?"}]}),
        "/v1/chat/completions": client.post("/v1/chat/completions", json={
            "model": "lightrag:latest", "messages": [{"role": "user", "content": "/naive Who is Nova?"}]}),
    }
    # THEN each answers `status`, never 500, with the adapter's words
    assert {path: r.status_code for path, r in calls.items()} == dict.fromkeys(calls, status)
    for path, response in calls.items():
        text = response.text
        assert str(error) in text, (path, text)
        if status == 503:
            assert response.headers["Retry-After"] in ("2", "5"), path
    assert calls["/api/chat"].json()["error"] == calls["/api/chat"].json()["detail"]
    assert calls["/v1/chat/completions"].json()["error"]["code"] in ("storage_unavailable",
                                                                      "conflict")
    if failure == "throttled":
        assert calls["/graphs"].headers["Retry-After"] == "2"


def test_a_store_failure_inside_a_stream_ends_it_with_an_error_line(
    failing: tuple[TestClient, dict[str, Exception]],
) -> None:
    client, current = failing
    current["error"] = FAILURES["unavailable"][0]
    response = client.post("/query/stream", json={"query": "Who is Nova?", "mode": "naive"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    assert lines[-1]["error"].startswith("Storage is unavailable")
    assert "http://search:9200" in lines[-1]["error"]
    chat = client.post("/api/chat", json={"model": "lightrag:latest", "stream": True,
                                          "messages": [{"role": "user", "content": "/naive Who is Nova?"}]})
    last = [json.loads(line) for line in chat.text.splitlines() if line]
    assert "Storage is unavailable" in last[-2]["error"] and last[-1]["done"] is True
