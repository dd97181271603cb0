"""Every storage adapter's settings group is typed: a bad value stops start-up in one line
that names the variable, and a group is read only when its adapter is selected."""

from __future__ import annotations

import pytest

from lambdarag.config import SettingsError, load_settings

OPENSEARCH = {"LIGHTRAG_VECTOR_STORAGE": "OpenSearchVectorDBStorage"}
NEPTUNE = {"LIGHTRAG_GRAPH_STORAGE": "NeptuneGraphStorage"}
DYNAMODB = {"LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
            "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage"}


def refusal(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    return message


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


def test_an_adapter_group_is_read_only_when_its_adapter_is_selected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENSEARCH_KNN_M", "GREMLIN_PORT", "LAMBDARAG_DYNAMODB_MAX_ATTEMPTS"):
        monkeypatch.setenv(name, "not-a-number")
    assert load_settings().storage_backends["vectors"] == "embedded"


def test_blank_adapter_values_mean_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**OPENSEARCH, **NEPTUNE, "OPENSEARCH_KNN_M": "", "GREMLIN_PORT": " "}.items():
        monkeypatch.setenv(key, value)
    backends = load_settings().storage_backends
    assert (backends["vectors"], backends["graph"]) == ("opensearch", "neptune")
