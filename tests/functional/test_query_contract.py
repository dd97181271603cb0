"""Contract audit: error locations of the query routes, /health fields."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.schemas import TOO_SHORT

# the configuration keys LightRAG 1.5.7 reports that a server without a reranker,
# VLM or external parsers can fill truthfully.
CONFIGURATION_KEYS = {
    "llm_binding", "llm_binding_host", "llm_model", "embedding_binding",
    "embedding_binding_host", "embedding_model", "summary_max_tokens", "summary_context_size",
    "kv_storage", "doc_status_storage", "graph_storage", "vector_storage",
    "enable_llm_cache_for_extract", "enable_llm_cache", "vlm_process_enable", "workspace",
    "storage_workspaces", "max_graph_nodes", "enable_rerank", "rerank_binding", "rerank_model",
    "rerank_binding_host", "rerank_max_async", "rerank_timeout", "summary_language",
    "force_llm_summary_on_merge", "max_parallel_insert", "cosine_threshold", "min_rerank_score",
    "related_chunk_number", "max_async", "llm_timeout", "embedding_func_max_async",
    "embedding_batch_num", "embedding_timeout",
}
LIVENESS_KEYS = {
    "status", "auth_mode", "core_version", "api_version", "webui_available",
    "workspace_available", "api_docs_available", "webui_title", "webui_description",
    "ai_content_notice_enabled", "pipeline_busy", "pipeline_active",
}


@pytest.mark.parametrize("path", ["/query", "/query/stream"])
@pytest.mark.parametrize(
    ("query", "loc", "message"),
    [
        ("   ", ["body", "query"], "Value error, Query must not be empty."),
        ("ab", ["body"], f"Value error, {TOO_SHORT}"),
        ("好", ["body"], f"Value error, {TOO_SHORT}"),
    ],
    ids=["empty", "short", "short-cjk"],
)
def test_query_errors_are_422_at_the_field_to_fix(
    client: TestClient, path: str, query: str, loc: list[str], message: str
) -> None:
    response = client.post(path, json={"query": query})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["msg"]) == (loc, message)


def test_bypass_accepts_short_queries_but_not_empty_ones(client: TestClient) -> None:
    assert client.post("/query", json={"query": "hi", "mode": "bypass"}).status_code == 200
    assert client.post("/query", json={"query": " ", "mode": "bypass"}).status_code == 422


def test_health_reports_the_contract_fields(client: TestClient) -> None:
    response = client.get("/health", headers={"LIGHTRAG-WORKSPACE": "team_a"})
    assert response.status_code == 200
    health = response.json()
    assert LIVENESS_KEYS <= set(health)
    assert {"working_directory", "input_directory", "server_mode", "workers"} <= set(health)
    assert (health["status"], health["auth_mode"], health["api_version"]) == (
        "healthy", "disabled", "0344")
    config = health["configuration"]
    assert CONFIGURATION_KEYS <= set(config)
    assert config["workspace"] == "team_a"
    assert config["storage_workspaces"] == {"kv_storage": "team_a", "doc_status_storage": "team_a",
                                            "graph_storage": "team_a", "vector_storage": "team_a"}
    assert (config["enable_rerank"], config["rerank_binding"], config["rerank_model"]) == (
        False, "null", None)
