"""Rerank: chunks follow the reranker's relevance score and stop at MIN_RERANK_SCORE.

The fake provider speaks Cohere's and Jina's ``/v1/rerank`` (and Cohere's ``/v2/rerank``)
and Aliyun DashScope's text-rerank. With ``rerank_order = "reverse"`` it scores the last
document it was sent highest, so a reranked retrieval is the vector order reversed.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.llm.base import (
    LLMTimeoutError,
    LLMUnavailableError,
    LLMUnreachableError,
    RerankConfig,
)
from lambdarag.llm.rerank import create_rerank
from lambdarag.llm.retry import Backoff
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, wait_track

DOCS = {
    "a.txt": "Acme Corp builds rockets in Berlin.",
    "b.txt": "Acme Corp hired Alice Smith to lead the rocket team.",
    "c.txt": "Acme Corp rockets launch from Kourou every spring.",
    "d.txt": "Acme Corp sells rocket engines to Orbital Labs.",
}
QUERY = {"query": "Which rockets does Acme Corp build?", "mode": "naive"}
PROTOCOLS = {"cohere": "/v1/rerank", "jina": "/v1/rerank",
             "aliyun": "/api/v1/services/rerank/text-rerank/text-rerank"}


@pytest.fixture
def corpus(tmp_path: Path, fake_llm: FakeLLMServer) -> Path:
    """A working directory with one chunk per document, indexed without a reranker."""
    with TestClient(create_app(fake_settings(tmp_path, fake_llm))) as client:
        for name, text in DOCS.items():
            assert wait_track(client, insert(client, text, name))[0]["status"] == "processed"
    return tmp_path


def client_for(tmp_path: Path, fake: FakeLLMServer, binding: str = "cohere",
               **overrides: Any) -> TestClient:
    values = {"rerank_binding": binding, "rerank_binding_host": fake.url + PROTOCOLS[binding],
              "llm_max_retries": 0, **overrides}
    return TestClient(create_app(fake_settings(tmp_path, fake, **values)))


def chunk_files(client: TestClient, **extra: Any) -> list[str]:
    response = client.post("/query/data", json={**QUERY, "include_scores": True, **extra})
    assert response.status_code == 200, response.text
    return [c["file_path"] for c in response.json()["data"]["chunks"]]


def rerank_requests(fake: FakeLLMServer) -> list[Any]:
    return [body for path, body in fake.requests if "rerank" in path]


@pytest.mark.parametrize("binding", sorted(PROTOCOLS))
def test_chunks_follow_the_rerankers_order(corpus: Path, fake_llm: FakeLLMServer,
                                           binding: str) -> None:
    with client_for(corpus, fake_llm, binding) as client:
        # GIVEN the order vector search gives
        vector_order = chunk_files(client, enable_rerank=False)
        assert len(vector_order) == 4 and not rerank_requests(fake_llm)
        # WHEN the reranker scores the documents in the reverse of that order
        fake_llm.rerank_order = "reverse"
        reranked = chunk_files(client)
    # THEN /query/data's chunks follow the reranker
    assert reranked == vector_order[::-1]
    sent = rerank_requests(fake_llm)
    assert len(sent) == 1
    if binding == "aliyun":
        assert sent[0]["model"] == "gte-rerank-v2"
        assert sent[0]["input"]["query"] == QUERY["query"]
        assert len(sent[0]["input"]["documents"]) == 4
        assert sent[0]["parameters"]["top_n"] == 20  # CHUNK_TOP_K
    else:
        assert sent[0]["model"] == {"cohere": "rerank-v3.5",
                                    "jina": "jina-reranker-v2-base-multilingual"}[binding]
        assert sent[0]["query"] == QUERY["query"] and len(sent[0]["documents"]) == 4
        assert sent[0]["top_n"] == 20


def test_min_rerank_score_cuts_and_scores_are_shown(corpus: Path,
                                                    fake_llm: FakeLLMServer) -> None:
    fake_llm.rerank_order = "reverse"  # scores 0.25, 0.5, 0.75, 1.0 in vector order
    with client_for(corpus, fake_llm, min_rerank_score=0.6) as client:
        response = client.post("/query/data", json={**QUERY, "include_scores": True})
        unranked = chunk_files(client, enable_rerank=False)
    chunks = response.json()["data"]["chunks"]
    assert [c["rerank_score"] for c in chunks] == [1.0, 0.75]
    assert [c["file_path"] for c in chunks] == unranked[:1:-1]
    assert {r["file_path"] for r in response.json()["data"]["references"]} == set(unranked[2:])


def test_rerank_by_default_false_reranks_only_when_asked(corpus: Path,
                                                        fake_llm: FakeLLMServer) -> None:
    fake_llm.rerank_order = "reverse"
    with client_for(corpus, fake_llm, rerank_by_default=False) as client:
        plain = chunk_files(client)
        assert not rerank_requests(fake_llm)
        assert chunk_files(client, enable_rerank=True) == plain[::-1]


def test_an_answer_is_built_from_the_reranked_chunks(corpus: Path,
                                                     fake_llm: FakeLLMServer) -> None:
    fake_llm.rerank_order = "reverse"
    with client_for(corpus, fake_llm, min_rerank_score=0.9) as client:
        answer = client.post("/query", json=QUERY)
    assert answer.status_code == 200
    assert len(answer.json()["references"]) == 1


def test_health_shows_the_rerank_binding(corpus: Path, fake_llm: FakeLLMServer) -> None:
    with client_for(corpus, fake_llm, "aliyun", min_rerank_score=0.3,
                    max_async_rerank=2) as client:
        health = client.get("/health").json()
    config = health["configuration"]
    assert {k: config[k] for k in ("enable_rerank", "rerank_binding", "rerank_model",
                                   "rerank_binding_host", "rerank_timeout", "min_rerank_score",
                                   "rerank_max_async")} == {
        "enable_rerank": True, "rerank_binding": "aliyun", "rerank_model": "gte-rerank-v2",
        "rerank_binding_host": fake_llm.url + PROTOCOLS["aliyun"], "rerank_timeout": 30,
        "min_rerank_score": 0.3, "rerank_max_async": 2}
    assert health["providers"]["rerank"]["reachable"] is True
    assert health["providers"]["rerank"]["setting"] == "RERANK_BINDING_HOST"


def test_without_a_reranker_health_says_null(corpus: Path, fake_llm: FakeLLMServer) -> None:
    with TestClient(create_app(fake_settings(corpus, fake_llm))) as client:
        health = client.get("/health").json()
    assert health["configuration"]["enable_rerank"] is False
    assert health["configuration"]["rerank_binding"] == "null"
    assert "rerank" not in health["providers"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_rerank_provider_down_slow_or_refusing_says_so(corpus: Path,
                                                         fake_llm: FakeLLMServer) -> None:
    down = f"http://127.0.0.1:{closed_port()}/v1/rerank"
    with client_for(corpus, fake_llm, rerank_binding_host=down) as client:
        unreachable = client.post("/query/data", json=QUERY)
        # a query that turns rerank off is not affected
        assert client.post("/query/data", json={**QUERY, "enable_rerank": False}).status_code == 200
    assert unreachable.status_code == 503
    assert f"Rerank host {down} (RERANK_BINDING_HOST) is unreachable" in unreachable.text
    fake_llm.rerank_delay = 2.0
    with client_for(corpus, fake_llm, rerank_timeout=0.3) as client:
        slow = client.post("/query", json=QUERY)
    assert slow.status_code == 504 and "raise RERANK_TIMEOUT" in slow.text
    fake_llm.rerank_delay = 0.0
    # a reranker of its own that wants another key
    with FakeLLMServer(api_key="right") as keyed, client_for(
        corpus, fake_llm, rerank_binding_host=f"{keyed.url}/v1/rerank",
        rerank_binding_api_key="wrong",
    ) as client:
        refused = client.post("/query/data", json=QUERY)
    assert refused.status_code == 502
    assert "rejected the API key (RERANK_BINDING_API_KEY)" in refused.text


@pytest.fixture
def reranker(fake_llm: FakeLLMServer) -> Any:
    """A Jina binding with 2 retries; the test closes it on its own event loop."""
    config = RerankConfig("jina", "jina-reranker-v2-base-multilingual",
                          f"{fake_llm.url}/v1/rerank", api_key="k", timeout=0.5, max_retries=2)
    return create_rerank(config, backoff=Backoff(base=0.01, cap=0.02))


def test_the_binding_retries_transient_failures_like_the_others(
    reranker: Any, fake_llm: FakeLLMServer
) -> None:
    async def go() -> Any:
        try:
            fake_llm.fail_next(2, status=503)
            ranked = await reranker.rerank("acme rockets", ["bob cooks", "acme rockets"], 2)
            fake_llm.fail_next(3, status=503)
            with pytest.raises(LLMUnavailableError,
                               match=r"Rerank host .* kept failing with HTTP 503.*\(3 attempts\)"):
                await reranker.rerank("q", ["d"], 1)
            fake_llm.rerank_delay = 2.0
            with pytest.raises(LLMTimeoutError, match="raise RERANK_TIMEOUT"):
                await reranker.rerank("q", ["d"], 1)
            return ranked
        finally:
            await reranker.aclose()

    assert asyncio.run(go()) == [(1, 1.0), (0, 0.0)]
    assert len(rerank_requests(fake_llm)) == 2 + 1 + 3 + 3


def test_an_unreachable_reranker_binding_raises_the_unreachable_error() -> None:
    config = RerankConfig("cohere", "rerank-v3.5", f"http://127.0.0.1:{closed_port()}/v2/rerank",
                          max_retries=0)

    async def go() -> None:
        binding = create_rerank(config)
        try:
            await binding.rerank("q", ["d"], 1)
        finally:
            await binding.aclose()

    with pytest.raises(LLMUnreachableError, match=r"\(RERANK_BINDING_HOST\) is unreachable"):
        asyncio.run(go())


FILLER = " ".join(f"filler{i}" for i in range(120))
LONG = f"acme {FILLER} rockets {FILLER} berlin"  # every query word, far apart


def test_rerank_chunking_scores_a_long_document_by_its_best_window(
    fake_llm: FakeLLMServer,
) -> None:
    from lambdarag.llm import tokenizer

    def ranked(**chunking: Any) -> list[tuple[int, float]]:
        config = RerankConfig("cohere", "rerank-v3.5", f"{fake_llm.url}/v1/rerank", **chunking)
        binding = create_rerank(config)

        async def go() -> list[tuple[int, float]]:
            try:
                return await binding.rerank("acme rockets berlin", [LONG, "acme rockets"], 1)
            finally:
                await binding.aclose()

        return asyncio.run(go())

    # GIVEN a long document holding every query word, but far apart, and a short one
    # WHEN it is reranked whole, THEN it wins: the model saw all three words at once
    assert ranked() == [(0, 1.0)]
    assert len(rerank_requests(fake_llm)[-1]["documents"]) == 2
    # WHEN RERANK_ENABLE_CHUNKING cuts it into 64-token windows
    assert ranked(enable_chunking=True, max_tokens_per_doc=64) == [(1, pytest.approx(2 / 3))]
    # THEN each window went alone (within the limit, all scored), the long document scored as
    # its best window (one word of three), and top_n cut the documents, not the windows
    sent = rerank_requests(fake_llm)[-1]
    assert len(sent["documents"]) > 4 and sent["top_n"] == len(sent["documents"])
    assert all(tokenizer.count_tokens(d) <= 64 for d in sent["documents"])
    assert sent["documents"][-1] == "acme rockets"
