"""Every storage adapter's settings group is typed: a bad value stops start-up in one line
that names the variable, and a group is read only when its adapter is selected."""

from __future__ import annotations

import pytest

from lambdarag.config import load_settings
from tests.settings_refusal import refusal

OPENSEARCH = {"LIGHTRAG_VECTOR_STORAGE": "OpenSearchVectorDBStorage"}
NEPTUNE = {"LIGHTRAG_GRAPH_STORAGE": "NeptuneGraphStorage"}
DYNAMODB = {"LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
            "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage"}
S3VECTORS = {"LIGHTRAG_VECTOR_STORAGE": "S3VectorsStorage"}
DYNAMODB_GRAPH = {"LIGHTRAG_GRAPH_STORAGE": "DynamoDBGraphStorage"}


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("OPENSEARCH_KNN_M", "many", "OPENSEARCH_KNN_M: Input should be a valid integer"),
    ("OPENSEARCH_KNN_EF_SEARCH", "0", "OPENSEARCH_KNN_EF_SEARCH: Input should be greater than or equal to 1"),
    ("OPENSEARCH_TIMEOUT", "soon", "OPENSEARCH_TIMEOUT: Input should be a valid number"),
    ("OPENSEARCH_USE_SSL", "maybe", "OPENSEARCH_USE_SSL: Input should be a valid boolean"),
    ("LAMBDARAG_OPENSEARCH_ENGINE", "milvus", "LAMBDARAG_OPENSEARCH_ENGINE: Input should be 'lucene'"),
    ("LAMBDARAG_OPENSEARCH_REFRESH", "sometimes", "LAMBDARAG_OPENSEARCH_REFRESH: Input should be 'true'"),
    ("LAMBDARAG_OPENSEARCH_SHARDS", "0", "LAMBDARAG_OPENSEARCH_SHARDS: Input should be greater than or equal to 1"),
])
def test_a_bad_opensearch_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    assert refusal(monkeypatch, {**OPENSEARCH, name: value}).startswith(expected)


@pytest.mark.parametrize(("env", "expected"), [
    ({"GREMLIN_PORT": "x"}, "GREMLIN_PORT: Input should be a valid integer"),
    ({"GREMLIN_PORT": "70000"}, "GREMLIN_PORT: Input should be less than or equal to 65535"),
    ({"GREMLIN_URL": "http://neptune:8182"}, "GREMLIN_URL: must be a ws:// or wss:// URL"),
    ({"NEPTUNE_IAM_AUTH": "maybe"}, "NEPTUNE_IAM_AUTH: Input should be a valid boolean"),
    ({"NEPTUNE_IAM_AUTH": "true", "AWS_REGION": "", "AWS_DEFAULT_REGION": ""},
     "configuration: NEPTUNE_IAM_AUTH needs AWS_REGION"),
])
def test_a_bad_neptune_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    assert refusal(monkeypatch, {**NEPTUNE, **env}).startswith(expected)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("LAMBDARAG_DYNAMODB_MAX_ATTEMPTS", "lots", "LAMBDARAG_DYNAMODB_MAX_ATTEMPTS: Input should be a valid integer"),
    ("LAMBDARAG_DYNAMODB_INLINE_LIMIT", "999999999",
     "LAMBDARAG_DYNAMODB_INLINE_LIMIT: Input should be less than or equal to 390000"),
    ("LAMBDARAG_DYNAMODB_TABLE", "ab", "LAMBDARAG_DYNAMODB_TABLE: String should have at least 3 characters"),
    ("LAMBDARAG_DYNAMODB_CREATE_TABLE", "perhaps", "LAMBDARAG_DYNAMODB_CREATE_TABLE: Input should be a valid boolean"),
])
def test_a_bad_dynamodb_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    assert refusal(monkeypatch, {**DYNAMODB, name: value}).startswith(expected)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("LAMBDARAG_S3VECTORS_BUCKET", "Rag_Vectors",
     "LAMBDARAG_S3VECTORS_BUCKET: must be 3-63 characters of a-z, 0-9 and '-'"),
    ("LAMBDARAG_S3VECTORS_INDEX_PREFIX", "-x", "LAMBDARAG_S3VECTORS_INDEX_PREFIX: must be 1-16 characters"),
    ("LAMBDARAG_S3VECTORS_MAX_ATTEMPTS", "0",
     "LAMBDARAG_S3VECTORS_MAX_ATTEMPTS: Input should be greater than or equal to 1"),
    ("LAMBDARAG_S3VECTORS_CONCURRENCY", "four", "LAMBDARAG_S3VECTORS_CONCURRENCY: Input should be a valid integer"),
    ("LAMBDARAG_S3VECTORS_CREATE_BUCKET", "perhaps",
     "LAMBDARAG_S3VECTORS_CREATE_BUCKET: Input should be a valid boolean"),
])
def test_a_bad_s3vectors_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    assert refusal(monkeypatch, {**S3VECTORS, name: value}).startswith(expected)


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("LAMBDARAG_DYNAMODB_GRAPH_TABLE", "g",
     "LAMBDARAG_DYNAMODB_GRAPH_TABLE: String should have at least 3 characters"),
    ("LAMBDARAG_DYNAMODB_MAX_ATTEMPTS", "lots", "LAMBDARAG_DYNAMODB_MAX_ATTEMPTS: Input should be a valid integer"),
])
def test_a_bad_dynamodb_graph_setting_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    assert refusal(monkeypatch, {**DYNAMODB_GRAPH, name: value}).startswith(expected)


def test_the_low_cost_groups_build_their_adapters_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {**S3VECTORS, **DYNAMODB_GRAPH, "LAMBDARAG_DYNAMODB_TABLE": "rag", "AWS_REGION": "eu-west-1",
           "LAMBDARAG_S3VECTORS_BUCKET": "rag-vectors", "LAMBDARAG_S3VECTORS_CONCURRENCY": "2"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    adapters = load_settings().adapter_settings
    vectors, graph = adapters["s3vectors"], adapters["dynamodb_graph"]
    assert (vectors.bucket, vectors.region, vectors.concurrency, vectors.index_prefix) == (
        "rag-vectors", "eu-west-1", 2, "lr")
    assert (graph.table, graph.region) == ("rag-graph", "eu-west-1")  # the state table's name + -graph
    monkeypatch.setenv("LAMBDARAG_DYNAMODB_GRAPH_TABLE", "rag-g")
    assert load_settings().adapter_settings["dynamodb_graph"].table == "rag-g"


def test_an_adapter_group_is_read_only_when_its_adapter_is_selected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENSEARCH_KNN_M", "GREMLIN_PORT", "LAMBDARAG_DYNAMODB_MAX_ATTEMPTS",
                 "LAMBDARAG_S3VECTORS_CONCURRENCY", "LAMBDARAG_DYNAMODB_GRAPH_TABLE"):
        monkeypatch.setenv(name, "not-a-number")
    assert load_settings().storage_backends["vectors"] == "embedded"


def test_blank_adapter_values_mean_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**OPENSEARCH, **NEPTUNE, "OPENSEARCH_KNN_M": "", "GREMLIN_PORT": " "}.items():
        monkeypatch.setenv(key, value)
    backends = load_settings().storage_backends
    assert (backends["vectors"], backends["graph"]) == ("opensearch", "neptune")
