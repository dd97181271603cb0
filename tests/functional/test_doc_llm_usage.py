"""Per-document LLM accounting: each document's status carries the calls and tokens it cost."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.functional.conftest import insert, wait_track
from tests.functional.corpus import CORPUS

USAGE_FIELDS = {"calls", "cache_hits", "prompt_tokens", "completion_tokens"}


def _documents(client: TestClient) -> list[dict]:
    return client.post("/documents/paginated", json={"page_size": 100}).json()["documents"]


def test_concurrently_indexed_documents_split_the_workspace_usage_exactly(
    client: TestClient,
) -> None:
    # GIVEN the whole corpus indexed at once (documents run side by side)
    tracks = [insert(client, text, name) for name, text in CORPUS.items()]
    for track in tracks:
        assert [d["status"] for d in wait_track(client, track)] == ["processed"]

    # THEN every document reports its own usage, and together they are the workspace's
    usages = [d["metadata"]["llm_usage"] for d in _documents(client)]
    assert len(usages) == len(CORPUS)
    assert all(set(u) == USAGE_FIELDS for u in usages)
    assert all(u["calls"] > 0 and u["prompt_tokens"] > 0 for u in usages)
    workspace = client.get("/health").json()["llm_usage"]
    for field in USAGE_FIELDS:
        assert sum(u[field] for u in usages) == workspace[field], field


def test_a_reindexed_document_costs_nothing_when_every_answer_is_cached(
    client: TestClient,
) -> None:
    # GIVEN a document indexed, deleted (its LLM cache kept) and inserted again
    name, text = next(iter(CORPUS.items()))
    assert [d["status"] for d in wait_track(client, insert(client, text, name))] == ["processed"]
    [first] = _documents(client)
    response = client.request("DELETE", "/documents/delete_document",
                              json={"doc_ids": [first["id"]]})
    assert response.status_code == 200, response.text
    assert [d["status"] for d in wait_track(client, insert(client, text, name))] == ["processed"]
    [second] = _documents(client)

    # THEN the second run paid for nothing (every answer came from the cache)
    before, after = first["metadata"]["llm_usage"], second["metadata"]["llm_usage"]
    assert before["calls"] > 0 and before["prompt_tokens"] > 0
    assert after == {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0}
