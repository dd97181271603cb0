"""Querying through the HTTP API: every mode, options, streaming, cache, failures."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.fakes.llm_server import FakeLLMServer

FAIL = "Sorry, I'm not able to provide an answer to that question.[no-context]"


def llm_calls(fake: FakeLLMServer, marker: str) -> list[dict]:
    return [body for path, body in fake.requests if "chat" in path and marker in json.dumps(body)]


@pytest.mark.parametrize("mode", ["local", "global", "hybrid", "mix"])
def test_kg_modes_answer_from_the_graph_with_references(indexed: TestClient, mode: str) -> None:
    response = indexed.post("/query", json={"query": "What did Alice Smith found in Berlin?", "mode": mode})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["llm_generated"] is True
    assert body["response"].startswith("Answer from context. Entities:")
    assert "Berlin" in body["response"]
    assert body["references"], body
    assert {r["reference_id"] for r in body["references"]} == {str(i + 1) for i in range(len(body["references"]))}
    assert "acme.txt" in {r["file_path"] for r in body["references"]}
    assert isinstance(body["response_time"], float)


def test_naive_mode_uses_chunks_only(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    response = indexed.post("/query", json={"query": "Who reported on the Helios Satellite?", "mode": "naive"})
    body = response.json()
    assert "Entities: ." in body["response"] or "Entities: " in body["response"]
    assert "berlin.txt" in {r["file_path"] for r in body["references"]}
    assert not llm_calls(fake_llm, "high_level_keywords")  # naive extracts no keywords


def test_bypass_goes_straight_to_the_llm(indexed: TestClient) -> None:
    response = indexed.post("/query", json={"query": "Say hello", "mode": "bypass"})
    assert response.json()["response"] == "Echo: Say hello"


def test_only_need_context_and_prompt(indexed: TestClient) -> None:
    context = indexed.post("/query", json={"query": "Tell me about Acme Corp", "only_need_context": True}).json()
    assert context["llm_generated"] is False
    assert "Knowledge Graph Data (Entity)" in context["response"]
    assert '"entity": "Acme Corp"' in context["response"]
    assert "Reference Document List" in context["response"]
    prompt = indexed.post("/query", json={"query": "Tell me about Acme Corp", "only_need_prompt": True,
                                          "response_type": "Bullet Points"}).json()
    assert prompt["response"].endswith("---User Query---\nTell me about Acme Corp")
    assert "Bullet Points" in prompt["response"]


def test_given_keywords_skip_keyword_extraction(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    fake_llm.reset()
    response = indexed.post("/query", json={"query": "Anything about the satellites?", "mode": "local",
                                            "ll_keywords": ["Helios Satellite"]})
    assert "Helios Satellite" in response.json()["response"]
    assert not llm_calls(fake_llm, "high_level_keywords")


def test_user_prompt_and_history_reach_the_llm(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    history = [{"role": "user", "content": "We talk about space."},
               {"role": "assistant", "content": "Fine."}]
    response = indexed.post("/query", json={"query": "Who presented the Helios Satellite?",
                                            "user_prompt": "Answer in one line",
                                            "conversation_history": history})
    assert "Instructions: Answer in one line" in response.json()["response"]
    [call] = llm_calls(fake_llm, "---Context---")
    roles = [m["role"] for m in call["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert call["messages"][1]["content"] == "We talk about space."


def test_answers_are_cached_unless_history_is_given(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    query = {"query": "Who founded Acme Corp?", "mode": "hybrid"}
    first = indexed.post("/query", json=query).json()["response"]
    before = len(llm_calls(fake_llm, "---Context---"))
    assert indexed.post("/query", json=query).json()["response"] == first
    assert len(llm_calls(fake_llm, "---Context---")) == before
    with_history = {**query, "conversation_history": [{"role": "user", "content": "hi"}]}
    indexed.post("/query", json=with_history)
    assert len(llm_calls(fake_llm, "---Context---")) == before + 1


def test_no_context_returns_the_fail_response(indexed: TestClient) -> None:
    response = indexed.post("/query", json={"query": "xylophone quasar zebra", "mode": "local"}).json()
    assert response["response"] == FAIL
    assert response["llm_generated"] is False


def test_stream_sends_references_first_then_deltas(indexed: TestClient) -> None:
    with indexed.stream("POST", "/query/stream", json={"query": "Who joined Acme Corp?"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert response.headers["x-accel-buffering"] == "no"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert "references" in lines[0]
    deltas = [line["response"] for line in lines[1:]]
    assert len(deltas) > 1
    assert "".join(deltas).startswith("Answer from context.")


def test_stream_with_progress_and_non_streaming_results(indexed: TestClient) -> None:
    body = {"query": "Who joined Acme Corp?", "include_progress": True, "only_need_context": True}
    lines = [json.loads(x) for x in indexed.post("/query/stream", json=body).text.splitlines()]
    assert lines[0] == {"progress": "retrieving_entities"}
    assert lines[1]["llm_generated"] is False and "references" in lines[1]
    assert "response_time" in lines[-1]


def test_include_chunk_content_adds_texts_to_references(indexed: TestClient) -> None:
    body = indexed.post("/query", json={"query": "Who mentored Dana Green?", "include_chunk_content": True}).json()
    assert all(ref["content"] for ref in body["references"])
    no_refs = indexed.post("/query", json={"query": "Who mentored Dana Green?", "include_references": False})
    assert no_refs.json()["references"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "   "}, "Query must not be empty."),
        ({"query": "ab"}, "RAG query is too short."),
        ({"query": "Who is Alice?", "mode": "other"}, "Input should be"),
        ({"query": "Who is Alice?", "top_k": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_queries_are_422(client: TestClient, body: dict, message: str) -> None:
    response = client.post("/query", json=body)
    assert response.status_code == 422
    assert message in json.dumps(response.json()["detail"])


def test_short_cjk_query_counts_double(indexed: TestClient) -> None:
    assert indexed.post("/query", json={"query": "北京"}).status_code == 200


def test_llm_outage_during_a_query_is_a_502_naming_the_host(
    indexed: TestClient, fake_llm: FakeLLMServer
) -> None:
    # GIVEN an LLM that keeps answering 503 WHEN a query needs it (keywords)
    fake_llm.fail_next(20, status=503)
    response = indexed.post("/query", json={"query": "What does Bob Jones do at Acme?", "mode": "hybrid"})
    # THEN the answer says so: never a 200 "no context"
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert detail.startswith("Provider error: LLM host ")
    assert f"{fake_llm.openai_url} (LLM_BINDING_HOST)" in detail and "HTTP 503" in detail
