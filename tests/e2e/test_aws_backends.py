"""The API on the AWS backends, selected by setting, gives the embedded store's results.

GIVEN the same corpus and fake LLM, one app runs on the embedded store and one with
``LIGHTRAG_VECTOR_STORAGE=OpenSearchVectorDBStorage`` and ``LIGHTRAG_GRAPH_STORAGE=
NeptuneGraphStorage`` and ``LIGHTRAG_KV_STORAGE``/``LIGHTRAG_DOC_STATUS_STORAGE`` on
DynamoDB, against DynamoDB Local (a table per run), the local OpenSearch node and Gremlin
Server (``scripts/services start all``). WHEN both index it over HTTP and answer every query mode,
``/graphs``, ``/graph/label/list``, an entity edit and a document delete, THEN every answer
matches.

Each run uses a unique workspace and index prefix and removes its graph and indices.
Skipped when the servers are down, unless ``LAMBDARAG_AWS_TESTS=1``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import load_settings
from tests.aws.conftest import aws_env, drop_remote
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, run, wait_track, workspace
from tests.functional.corpus import CORPUS, wait_for
from tests.settings_refusal import refusal

MODES = ["local", "global", "hybrid", "naive", "mix"]
QUESTIONS = ["Who founded Acme Corp?", "What did Alice Smith present at the Orbital Summit?"]



def graph(client: TestClient) -> tuple[set[str], set[frozenset[str]]]:
    body = client.get("/graphs", params={"label": "*", "max_depth": 10, "max_nodes": 1000}).json()
    assert body["is_truncated"] is False
    return ({n["id"] for n in body["nodes"]},
            {frozenset((e["source"], e["target"])) for e in body["edges"]})


def node_props(client: TestClient, name: str) -> dict[str, Any]:
    body = client.get("/graphs", params={"label": name, "max_depth": 1}).json()
    return next(n["properties"] for n in body["nodes"] if n["id"] == name)


def answers(client: TestClient) -> dict[tuple[str, str], tuple[str, list[str]]]:
    found = {}
    for question in QUESTIONS:
        for mode in MODES:
            response = client.post("/query", json={"query": question, "mode": mode})
            assert response.status_code == 200, response.text
            body = response.json()
            found[(question, mode)] = (body["response"],
                                       [r["file_path"] for r in body["references"] or []])
    return found


def exercise(client: TestClient) -> dict[str, Any]:
    """Index the corpus, then read, edit and delete through the API; what each step showed."""
    for name, text in CORPUS.items():
        docs = wait_track(client, insert(client, text, name), timeout=60)
        assert [d["status"] for d in docs] == ["processed"], docs
    seen: dict[str, Any] = {"labels": client.get("/graph/label/list").json(),
                            "graph": graph(client), "answers": answers(client)}
    edit = client.post("/graph/entity/edit", json={
        "entity_name": "Acme Corp", "updated_data": {"description": "A satellite maker."}})
    assert edit.status_code == 200, edit.text
    props = node_props(client, "Acme Corp")
    seen["edited"] = (props["description"], props.get("entity_type"))
    ws = workspace(client, client.app.state.settings.workspace)  # type: ignore[attr-defined]
    (record,) = run(client, ws.stores.doc_status.by_file_path, "acme.txt")
    deleted = client.request("DELETE", "/documents/delete_document", json={"doc_ids": [record["id"]]})
    assert deleted.status_code == 200, deleted.text
    wait_for(lambda: run(client, ws.stores.doc_status.get, record["id"]) is None, timeout=60)
    seen["after_delete"] = (client.get("/graph/label/list").json(), graph(client),
                            answers(client))
    return seen


@pytest.mark.slow
def test_aws_backends_answer_like_the_embedded_store(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    # GIVEN the embedded store
    embedded = fake_settings(tmp_path / "embedded", fake_llm, workspace=name)
    assert set(embedded.storage_backends.values()) == {"embedded"}
    with TestClient(create_app(embedded)) as client:
        expected = exercise(client)
    # ... and the AWS backends, selected by setting
    with aws_env(monkeypatch, f"lre2e-{uuid.uuid4().hex[:10]}"):
        settings = fake_settings(tmp_path / "aws", fake_llm, workspace=name)
        assert settings.storage_backends["vectors"] == "opensearch"
        assert settings.storage_backends["graph"] == "neptune"
        with TestClient(create_app(settings)) as client:
            engine = client.app.state.engine  # type: ignore[attr-defined]
            try:
                # WHEN the same steps run through the API
                got = exercise(client)
                assert name in engine.workspace_names()
                stores = run(client, engine.workspace, name).stores
                assert type(stores.graph).__name__ == "NeptuneGraphStorage"
                assert type(stores.chunks_vdb).__name__ == "OpenSearchVectorStorage"
                assert type(stores.doc_status).__name__ == "DynamoDocStatusStorage"
            finally:
                run(client, drop_remote, run(client, engine.workspace, name))
    # THEN every step showed the same thing
    assert got["labels"] == expected["labels"]
    assert got["graph"] == expected["graph"]
    assert got["edited"] == expected["edited"]
    for key, (text, references) in expected["answers"].items():
        assert got["answers"][key] == (text, references), key
    assert got["after_delete"][0] == expected["after_delete"][0]
    assert got["after_delete"][1] == expected["after_delete"][1]
    assert got["after_delete"][2] == expected["after_delete"][2]
    assert "Acme Corp" in expected["labels"]


def test_importing_the_engine_loads_no_aws_client() -> None:
    code = ("import sys, lambdarag.runtime.engine, lambdarag.api.app; "
            "print(sorted(m for m in ('boto3', 'botocore', 'opensearchpy', 'gremlin_python') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIGHTRAG_VECTOR_STORAGE": "MilvusVectorDBStorage"},
         "LIGHTRAG_VECTOR_STORAGE: unknown storage 'MilvusVectorDBStorage'; accepted: "
         "JsonDocStatusStorage, JsonKVStorage, NanoVectorDBStorage, NetworkXStorage, "
         "OpenSearchVectorDBStorage, OpenSearchVectorStorage, S3VectorsStorage, embedded, "
         "opensearch, s3vectors"),
        ({"LIGHTRAG_GRAPH_STORAGE": "Neo4JStorage"},
         "LIGHTRAG_GRAPH_STORAGE: unknown storage 'Neo4JStorage'; accepted: "),
        ({"LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage"},
         "configuration: LIGHTRAG_KV_STORAGE and LIGHTRAG_DOC_STATUS_STORAGE must use the same "
         "backend"),
        ({"LIGHTRAG_VECTOR_STORAGE": "opensearch", "OPENSEARCH_KNN_M": "many"},
         "OPENSEARCH_KNN_M: Input should be a valid integer"),
        ({"LIGHTRAG_GRAPH_STORAGE": "GremlinStorage", "GREMLIN_URL": "http://neptune:8182"},
         "GREMLIN_URL: must be a ws:// or wss:// URL (got 'http://neptune:8182')"),
        ({"LIGHTRAG_VECTOR_STORAGE": "S3VectorsStorage", "LAMBDARAG_S3VECTORS_BUCKET": "Bad_Name"},
         "LAMBDARAG_S3VECTORS_BUCKET: must be 3-63 characters of a-z, 0-9 and '-'"),
        ({"LIGHTRAG_GRAPH_STORAGE": "DynamoDBGraphStorage", "LAMBDARAG_DYNAMODB_GRAPH_TABLE": "x"},
         "LAMBDARAG_DYNAMODB_GRAPH_TABLE: String should have at least 3 characters"),
    ],
)
def test_a_bad_storage_selection_stops_start_up_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    assert refusal(monkeypatch, env).startswith(message)


@pytest.mark.parametrize(
    ("vector", "graph", "expected"),
    [
        ("NanoVectorDBStorage", "NetworkXStorage", ("embedded", "embedded")),
        ("OpenSearchVectorDBStorage", "GremlinStorage", ("opensearch", "neptune")),
        ("opensearch", "NeptuneGraphStorage", ("opensearch", "neptune")),
        ("OpenSearchVectorStorage", "neptune", ("opensearch", "neptune")),
        ("S3VectorsStorage", "DynamoDBGraphStorage", ("s3vectors", "dynamodb")),
        ("s3vectors", "dynamodb", ("s3vectors", "dynamodb")),
    ],
)
def test_lightrag_names_and_aliases_select_the_backend(
    monkeypatch: pytest.MonkeyPatch, vector: str, graph: str, expected: tuple[str, str]
) -> None:
    monkeypatch.setenv("LIGHTRAG_VECTOR_STORAGE", vector)
    monkeypatch.setenv("LIGHTRAG_GRAPH_STORAGE", graph)
    backends = load_settings().storage_backends
    assert (backends["vectors"], backends["graph"]) == expected
    assert (backends["kv"], backends["doc_status"]) == ("embedded", "embedded")
