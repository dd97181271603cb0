"""Failures that say so: a provider that is down, slow or refusing, seen through every route.

The fake provider is up, then made unreachable (its host points at a closed port), slow
(it answers after the binding's timeout) or refusing (it answers an HTTP error). Each
query and chat route then answers 503, 504 or 502 in its own protocol's error shape, with
the words of the binding's error: the host and the setting that points at it. A stream
that has started ends with an error line instead.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, wait_track

QUESTION = "What does Bob Jones do at Acme?"
TEXT = "Bob Jones is an engineer at Acme Corp. Acme Corp builds rockets in Berlin."


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def requests(client: TestClient, mode: str = "hybrid") -> dict[str, httpx.Response]:
    """One call of every query and chat route, unstreamed."""
    chat = {"model": "lightrag:latest", "stream": False,
            "messages": [{"role": "user", "content": f"/{mode} {QUESTION}"}]}
    return {
        "/query": client.post("/query", json={"query": QUESTION, "mode": mode}),
        "/query/data": client.post("/query/data", json={"query": QUESTION, "mode": mode}),
        "/api/chat": client.post("/api/chat", json=chat),
        "/api/generate": client.post("/api/generate", json={"model": "lightrag:latest",
                                                            "prompt": QUESTION}),
        "/v1/chat/completions": client.post("/v1/chat/completions", json=chat),
    }


def message(path: str, response: httpx.Response) -> str:
    """The error text in the route family's own shape."""
    body = response.json()
    if path.startswith("/v1/"):
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "server_error" and body["error"]["code"] == "llm_error"
        return str(body["error"]["message"])
    if path.startswith("/api/"):
        assert body["error"] == body["detail"]  # what Ollama clients read
    return str(body["detail"])


@pytest.fixture
def indexed_settings(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[Path]:
    """A working directory holding one processed document, indexed with the fake up."""
    settings = fake_settings(tmp_path, fake_llm)
    with TestClient(create_app(settings)) as client:
        assert wait_track(client, insert(client, TEXT, "acme.txt"))[0]["status"] == "processed"
    return tmp_path  # type: ignore[return-value]


def app_client(tmp_path: Path, fake: FakeLLMServer, **overrides: Any) -> TestClient:
    values = {"llm_max_retries": 0, "enable_llm_cache": False, **overrides}
    return TestClient(create_app(fake_settings(tmp_path, fake, **values)))


def test_with_the_provider_up_every_route_answers(indexed_settings: Path,
                                                  fake_llm: FakeLLMServer) -> None:
    with app_client(indexed_settings, fake_llm) as client:
        assert {p: r.status_code for p, r in requests(client).items()} == dict.fromkeys(
            requests(client), 200)


def test_an_unreachable_llm_is_503_naming_its_host_on_every_route(
    indexed_settings: Path, fake_llm: FakeLLMServer
) -> None:
    down = closed_port_url()
    # GIVEN the LLM host pointing where nothing listens (embeddings still up)
    with app_client(indexed_settings, fake_llm, llm_binding_host=down) as client:
        calls = requests(client)
    # THEN every route answers 503 with Retry-After, naming the host and its setting
    assert {p: r.status_code for p, r in calls.items()} == dict.fromkeys(calls, 503)
    for path, response in calls.items():
        text = message(path, response)
        assert text.startswith("Provider error: LLM host "), (path, text)
        assert f"{down} (LLM_BINDING_HOST) is unreachable: connection refused" in text, path
        assert "check that the server is running" in text
        assert response.headers["Retry-After"] == "5", path


def test_an_unreachable_embedding_host_is_named_with_its_own_setting(
    indexed_settings: Path, fake_llm: FakeLLMServer
) -> None:
    down = closed_port_url()
    with app_client(indexed_settings, fake_llm, embedding_binding_host=down) as client:
        response = client.post("/query", json={"query": QUESTION, "mode": "naive"})
        data = client.post("/query/data", json={"query": QUESTION, "mode": "naive"})
        embed = client.post("/api/embed", json={"model": "lightrag:latest", "input": ["x"]})
    for answer in (response, data, embed):
        assert answer.status_code == 503
        assert f"Embedding host {down} (EMBEDDING_BINDING_HOST) is unreachable" in answer.text


def test_a_slow_llm_is_504_naming_the_timeout_setting(
    indexed_settings: Path, fake_llm: FakeLLMServer
) -> None:
    # GIVEN an LLM slower than LLM_TIMEOUT
    fake_llm.chat_delay = 2.0
    with app_client(indexed_settings, fake_llm, llm_timeout=0.3) as client:
        calls = requests(client)
    assert {p: r.status_code for p, r in calls.items()} == dict.fromkeys(calls, 504)
    for path, response in calls.items():
        text = message(path, response)
        assert f"LLM host {fake_llm.openai_url} (LLM_BINDING_HOST) did not answer within 0.3 s" \
            in text, path
        assert "raise LLM_TIMEOUT" in text


@pytest.mark.parametrize(("status", "words"), [
    (401, "rejected the API key (LLM_BINDING_API_KEY): HTTP 401"),
    (500, "kept failing with HTTP 500"),
    (400, "refused the request: HTTP 400"),
])
def test_a_refusing_llm_is_502_with_its_words(
    indexed_settings: Path, fake_llm: FakeLLMServer, status: int, words: str
) -> None:
    with app_client(indexed_settings, fake_llm) as client:
        # GIVEN each route's first LLM call refused
        calls = {}
        for path, call in [
            ("/query", lambda: client.post("/query", json={"query": QUESTION, "mode": "hybrid"})),
            ("/query/data", lambda: client.post("/query/data",
                                                json={"query": QUESTION, "mode": "hybrid"})),
            ("/api/generate", lambda: client.post("/api/generate", json={
                "model": "lightrag:latest", "prompt": QUESTION})),
            ("/v1/chat/completions", lambda: client.post("/v1/chat/completions", json={
                "model": "lightrag:latest",
                "messages": [{"role": "user", "content": f"/hybrid {QUESTION}"}]})),
        ]:
            fake_llm.fail_next(1, status=status)
            calls[path] = call()
    assert {p: r.status_code for p, r in calls.items()} == dict.fromkeys(calls, 502)
    for path, response in calls.items():
        text = message(path, response)
        assert f"LLM host {fake_llm.openai_url} (LLM_BINDING_HOST)" in text, path
        assert words in text, path


def test_a_stream_ends_with_the_error_line(indexed_settings: Path,
                                           fake_llm: FakeLLMServer) -> None:
    down = closed_port_url()
    with app_client(indexed_settings, fake_llm, llm_binding_host=down) as client:
        stream = client.post("/query/stream", json={"query": QUESTION, "mode": "hybrid"})
        chat = client.post("/api/chat", json={
            "model": "lightrag:latest", "stream": True,
            "messages": [{"role": "user", "content": QUESTION}]})
    lines = [json.loads(line) for line in stream.text.splitlines() if line]
    assert lines[-1]["status_code"] == 503
    assert lines[-1]["error"].startswith(f"Provider error: LLM host {down} (LLM_BINDING_HOST)")
    ollama_lines = [json.loads(line) for line in chat.text.splitlines() if line]
    assert "(LLM_BINDING_HOST) is unreachable" in ollama_lines[-2]["error"]
    assert ollama_lines[-1]["done"] is True


def test_the_openai_client_sees_the_status_and_the_words(
    indexed_settings: Path, fake_llm: FakeLLMServer
) -> None:
    from tests.functional.conftest import serve

    down = closed_port_url()
    app = create_app(fake_settings(indexed_settings, fake_llm, llm_binding_host=down,
                                   llm_max_retries=0))
    with serve(app) as url, openai.OpenAI(base_url=f"{url}/v1", api_key="x",
                                          max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model="lightrag:latest", messages=[
                {"role": "user", "content": QUESTION}])
    assert caught.value.status_code == 503
    assert f"LLM host {down} (LLM_BINDING_HOST) is unreachable" in caught.value.message


def test_health_reports_each_providers_reachability(indexed_settings: Path,
                                                    fake_llm: FakeLLMServer) -> None:
    down = closed_port_url()
    with app_client(indexed_settings, fake_llm, embedding_binding_host=down) as client:
        first = client.get("/health")
        again = client.get("/health").json()["providers"]
    assert first.status_code == 200 and first.json()["status"] == "healthy"
    providers = first.json()["providers"]
    assert providers["llm"] == {**providers["llm"], "binding": "openai",
                                "host": fake_llm.openai_url, "setting": "LLM_BINDING_HOST",
                                "reachable": True, "error": None}
    assert providers["embedding"]["reachable"] is False
    assert providers["embedding"]["error"] == (
        f"Embedding host {down} (EMBEDDING_BINDING_HOST) is unreachable: connection refused; "
        "check that the server is running")
    # cached: the second health check probed nothing again
    assert again == providers


def test_each_unreachable_provider_gets_one_start_up_warning(
    indexed_settings: Path, fake_llm: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.functional.corpus import wait_for

    llm_down, embedding_down = closed_port_url(), closed_port_url()
    caplog.set_level("WARNING", logger="lambdarag.api.app")
    with app_client(indexed_settings, fake_llm, llm_binding_host=llm_down,
                    embedding_binding_host=embedding_down) as client:
        # the server started: it answers what needs no provider
        assert client.post("/documents/paginated", json={}).status_code == 200
        assert client.get("/health").status_code == 200

        def warned() -> list[str] | None:
            lines = [r.getMessage() for r in caplog.records if r.name == "lambdarag.api.app"]
            return lines if len(lines) >= 2 else None

        lines = wait_for(warned, 10)
    assert lines == [
        f"LLM host {llm_down} (LLM_BINDING_HOST) is unreachable: connection refused; check "
        "that the server is running",
        f"Embedding host {embedding_down} (EMBEDDING_BINDING_HOST) is unreachable: connection "
        "refused; check that the server is running",
    ]


def test_no_start_up_warning_when_the_providers_answer(
    indexed_settings: Path, fake_llm: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="lambdarag.api.app")
    with app_client(indexed_settings, fake_llm) as client:
        assert client.get("/health").json()["providers"]["llm"]["reachable"] is True
    assert not [r for r in caplog.records if r.name == "lambdarag.api.app"]
