"""The API on the low-cost AWS tier gives the embedded store's results.

GIVEN the same corpus and fake LLM, one app runs on the embedded store and one on the
low-cost tier as the template configures it: ``LIGHTRAG_KV_STORAGE``/``DOC_STATUS`` on
DynamoDB, ``LIGHTRAG_GRAPH_STORAGE=DynamoDBGraphStorage`` (DynamoDB Local, a table pair per
run) and ``LIGHTRAG_VECTOR_STORAGE=S3VectorsStorage`` (the local S3 Vectors server, over
HTTP). WHEN both index it over HTTP, answer every query mode, serve ``/graphs`` and
``/graph/label/*``, edit an entity and delete a document (which rebuilds what it touched),
THEN every answer matches. Skipped when DynamoDB Local is down, unless LAMBDARAG_AWS_TESTS=1.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.aws.conftest import AWS_CREDENTIALS, AWS_REGION, HOST, require_service
from tests.e2e.test_aws_backends import exercise
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.s3vectors_server import S3VectorsServer
from tests.functional.conftest import fake_settings, run


@contextmanager
def lowcost_env(monkeypatch: pytest.MonkeyPatch, vectors_url: str) -> Iterator[str]:
    """Select the low-cost tier's backends through the environment; yields the table name."""
    port = int(__import__("os").environ.get("LAMBDARAG_DYNAMODB_PORT", "8000"))
    require_service("dynamodb", port)
    table = f"lrlc_{uuid.uuid4().hex[:10]}"
    env = {"LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
           "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage",
           "LIGHTRAG_GRAPH_STORAGE": "DynamoDBGraphStorage",
           "LIGHTRAG_VECTOR_STORAGE": "S3VectorsStorage",
           "DYNAMODB_ENDPOINT_URL": f"http://{HOST}:{port}", "LAMBDARAG_DYNAMODB_TABLE": table,
           "S3VECTORS_ENDPOINT_URL": vectors_url, "LAMBDARAG_S3VECTORS_BUCKET": "lr-e2e",
           "AWS_REGION": AWS_REGION, "AWS_ACCESS_KEY_ID": AWS_CREDENTIALS["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": AWS_CREDENTIALS["aws_secret_access_key"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield table
    finally:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=f"http://{HOST}:{port}",
                              region_name=AWS_REGION, **AWS_CREDENTIALS)
        for name in (table, f"{table}-graph"):
            try:
                client.delete_table(TableName=name)
            except client.exceptions.ResourceNotFoundException:
                pass


@pytest.mark.slow
def test_the_lowcost_tier_answers_like_the_embedded_store(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"lc_{uuid.uuid4().hex[:10]}"
    # GIVEN the embedded store
    with TestClient(create_app(fake_settings(tmp_path / "embedded", fake_llm, workspace=name))) as client:
        expected = exercise(client)
    # ... and the low-cost tier, selected by setting
    with S3VectorsServer() as vectors, lowcost_env(monkeypatch, vectors.url):
        settings = fake_settings(tmp_path / "lowcost", fake_llm, workspace=name)
        assert (settings.storage_backends["vectors"], settings.storage_backends["graph"]) == (
            "s3vectors", "dynamodb")
        with TestClient(create_app(settings)) as client:
            # WHEN the same steps run through the API
            got = exercise(client)
            engine = client.app.state.engine  # type: ignore[attr-defined]
            stores = run(client, engine.workspace, name).stores
            assert type(stores.graph).__name__ == "DynamoDBGraphStorage"
            assert type(stores.chunks_vdb).__name__ == "S3VectorsStorage"
            assert type(stores.doc_status).__name__ == "DynamoDocStatusStorage"
            popular = client.get("/graph/label/popular", params={"limit": 5})
            search = client.get("/graph/label/search", params={"q": "acme", "limit": 5})
            assert popular.status_code == search.status_code == 200
        # the vectors went over the wire to S3 Vectors, one index per namespace
        assert vectors.counters["queries"] > 0 and vectors.counters["vectors_put"] > 0
        assert len(vectors.store.buckets["lr-e2e"]) == 3
    # THEN every step showed the same thing
    assert got["labels"] == expected["labels"]
    assert got["graph"] == expected["graph"]
    assert got["edited"] == expected["edited"]
    for key, (text, references) in expected["answers"].items():
        assert got["answers"][key] == (text, references), key
    assert got["after_delete"] == expected["after_delete"]
    assert "Acme Corp" in expected["labels"]
