"""The HTTP bindings over the wire against the fake LLM server.

Every test runs for OpenAI, Azure OpenAI, Ollama and lollms unless it is about a
protocol detail of one of them. Bedrock is covered in ``test_llm_bedrock.py``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import numpy as np
import pytest

from lambdarag.llm import (
    EmbeddingBinding,
    EmbeddingConfig,
    LLMBinding,
    LLMConfig,
    LLMConfigError,
    LLMResponseError,
    LLMUnavailableError,
    create_embedding,
    create_llm,
)
from lambdarag.llm.lollms import build_prompt
from lambdarag.llm.prompts import ENTITY_EXTRACTION_USER
from lambdarag.llm.retry import Backoff, parse_retry_after
from tests.fakes import brain
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.routes import parse_lollms_prompt, split_system

FAST = Backoff(base=0.001, cap=0.005)
KEY = "test-key"


@dataclass(frozen=True)
class Wire:
    """Where one binding talks to the fake server."""

    binding: str
    chat_path: str
    embed_path: str

    def host(self, server: FakeLLMServer) -> str:
        return server.openai_url if self.binding == "openai" else server.url

    def llm(self, server: FakeLLMServer, **overrides: Any) -> LLMBinding:
        settings: dict[str, Any] = {"api_key": KEY, "timeout": 5.0, "max_retries": 3}
        config = LLMConfig(self.binding, "fake-llm", self.host(server), **settings)
        return create_llm(replace(config, **overrides), backoff=FAST)

    def embedder(self, server: FakeLLMServer, **overrides: Any) -> EmbeddingBinding:
        config = EmbeddingConfig(
            self.binding, "fake-embed", self.host(server), dim=64, api_key=KEY, max_retries=3
        )
        return create_embedding(replace(config, **overrides), backoff=FAST)


WIRES = [
    Wire("openai", "/v1/chat/completions", "/v1/embeddings"),
    Wire(
        "azure_openai",
        "/openai/deployments/fake-llm/chat/completions",
        "/openai/deployments/fake-embed/embeddings",
    ),
    Wire("ollama", "/api/chat", "/api/embed"),
    Wire("lollms", "/lollms_generate", "/lollms_embed"),
]


@pytest.fixture(params=WIRES, ids=[w.binding for w in WIRES])
def wire(request: pytest.FixtureRequest) -> Wire:
    return request.param


@pytest.fixture
def server(fake_llm: FakeLLMServer) -> FakeLLMServer:
    fake_llm.dim = 64
    return fake_llm


def seen_conversation(wire: Wire, body: dict[str, Any]) -> tuple[str | None, list[dict[str, str]]]:
    """The system prompt and messages the server received, whatever the protocol."""
    if wire.binding == "lollms":
        return parse_lollms_prompt(body["prompt"])
    return split_system(body["messages"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- chat ------------------------------------------------------------------------------


async def test_complete_returns_the_server_answer(wire: Wire, server: FakeLLMServer) -> None:
    # GIVEN an extraction prompt
    prompt = ENTITY_EXTRACTION_USER.format(input_text="Alice Smith joined Acme Corp.")
    llm = wire.llm(server)
    # WHEN it is completed
    answer = await llm.complete(prompt, system_prompt="You build a knowledge graph.")
    await llm.aclose()
    # THEN the answer is the fake's extraction, sent to the protocol's chat endpoint
    assert answer == brain.extract("Alice Smith joined Acme Corp.")
    assert [path for path, _ in server.requests] == [wire.chat_path]


async def test_system_prompt_and_history_reach_the_server_in_order(
    wire: Wire, server: FakeLLMServer
) -> None:
    history = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
    ]
    llm = wire.llm(server)
    await llm.complete("second question", system_prompt="be brief", history=history)
    await llm.aclose()
    system, messages = seen_conversation(wire, server.requests[0][1])
    assert system == "be brief"
    assert messages == [*history, {"role": "user", "content": "second question"}]


@pytest.mark.parametrize(
    ("binding", "key", "value"),
    [
        ("openai", "response_format", {"type": "json_object"}),
        ("azure_openai", "response_format", {"type": "json_object"}),
        ("ollama", "format", "json"),
    ],
)
async def test_json_mode_asks_the_provider_for_json(
    binding: str, key: str, value: Any, server: FakeLLMServer
) -> None:
    wire = next(w for w in WIRES if w.binding == binding)
    llm = wire.llm(server)
    await llm.complete("give json", json_mode=True)
    await llm.complete("give text")
    await llm.aclose()
    (_, with_json), (_, without_json) = server.requests
    assert with_json[key] == value
    assert key not in without_json


async def test_options_reach_the_request_body(wire: Wire, server: FakeLLMServer) -> None:
    llm = wire.llm(server, options={"temperature": 0.0})
    await llm.complete("hi")
    await llm.aclose()
    body = server.requests[0][1]
    options = body["options"] if wire.binding == "ollama" else body
    assert options["temperature"] == 0.0


async def test_stream_deltas_reassemble_the_full_answer(wire: Wire, server: FakeLLMServer) -> None:
    llm = wire.llm(server)
    prompt = "tell me a long story about rivers and mountains and valleys far away"
    deltas = [delta async for delta in llm.stream(prompt, system_prompt="narrate")]
    full = await llm.complete(prompt, system_prompt="narrate")
    await llm.aclose()
    assert len(deltas) > 1
    assert all(deltas)
    assert "".join(deltas) == full == "[system] Echo: " + prompt


# --- retries and failures --------------------------------------------------------------


async def test_429_waits_at_least_retry_after_then_succeeds(
    wire: Wire, server: FakeLLMServer
) -> None:
    server.fail_next(1, status=429, retry_after=0.3)
    llm = wire.llm(server)
    started = time.monotonic()
    answer = await llm.complete("hi")
    elapsed = time.monotonic() - started
    await llm.aclose()
    assert answer == "Echo: hi"
    assert len(server.requests) == 2
    assert 0.3 <= elapsed < 2.0


async def test_503_twice_then_success(
    wire: Wire, server: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(2, status=503)
    llm = wire.llm(server)
    with caplog.at_level(logging.WARNING, logger="lambdarag.llm.retry"):
        assert await llm.complete("hi") == "Echo: hi"
    await llm.aclose()
    assert len(server.requests) == 3
    retries = [r.getMessage() for r in caplog.records if r.name == "lambdarag.llm.retry"]
    assert len(retries) == 2
    assert "HTTP 503" in retries[0] and "retry 1/3 in " in retries[0]


async def test_stream_is_retried_before_the_first_delta(wire: Wire, server: FakeLLMServer) -> None:
    server.fail_next(1, status=502)
    llm = wire.llm(server)
    deltas = [delta async for delta in llm.stream("hi there")]
    await llm.aclose()
    assert "".join(deltas) == "Echo: hi there"


async def test_exhausted_retries_name_the_host_and_setting(
    wire: Wire, server: FakeLLMServer
) -> None:
    server.fail_next(10, status=503)
    llm = wire.llm(server, max_retries=2)
    with pytest.raises(LLMUnavailableError) as caught:
        await llm.complete("hi")
    await llm.aclose()
    message = str(caught.value)
    assert f"LLM host {wire.host(server)} (LLM_BINDING_HOST)" in message
    assert "HTTP 503" in message and "3 attempts" in message
    assert "\n" not in message
    assert len(server.requests) == 3


async def test_rejected_key_fails_at_once(wire: Wire, server: FakeLLMServer) -> None:
    server.api_key = "the-right-key"
    llm = wire.llm(server)
    with pytest.raises(LLMConfigError, match="LLM_BINDING_API_KEY"):
        await llm.complete("hi")
    await llm.aclose()
    assert len(server.requests) == 1


async def test_azure_without_api_key_is_rejected(server: FakeLLMServer) -> None:
    llm = WIRES[1].llm(server, api_key=None)
    with pytest.raises(LLMConfigError, match="rejected the API key"):
        await llm.complete("hi")
    await llm.aclose()


async def test_unknown_model_names_the_model_setting(wire: Wire, server: FakeLLMServer) -> None:
    server.fail_next(1, status=404)
    llm = wire.llm(server)
    with pytest.raises(LLMConfigError, match=r"'fake-llm' \(LLM_MODEL\) was not found"):
        await llm.complete("hi")
    await llm.aclose()


async def test_other_4xx_is_a_response_error_with_the_provider_text(
    wire: Wire, server: FakeLLMServer
) -> None:
    server.fail_next(1, status=400)
    llm = wire.llm(server)
    with pytest.raises(LLMResponseError, match=r"HTTP 400: injected failure \(HTTP 400\)"):
        await llm.complete("hi")
    await llm.aclose()
    assert len(server.requests) == 1


async def test_slow_answer_beyond_timeout_is_unavailable(wire: Wire, server: FakeLLMServer) -> None:
    server.delay = 0.5
    llm = wire.llm(server, timeout=0.1, max_retries=1)
    with pytest.raises(LLMUnavailableError, match=r"did not answer within 0.1 s.*LLM_TIMEOUT"):
        await llm.complete("hi")
    await llm.aclose()
    assert len(server.requests) == 2


async def test_unreachable_host_names_host_and_setting(wire: Wire) -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    config = LLMConfig(wire.binding, "fake-llm", host, api_key=KEY, max_retries=0)
    llm = create_llm(config, backoff=FAST)
    with pytest.raises(LLMUnavailableError) as caught:
        await llm.complete("hi")
    await llm.aclose()
    assert str(caught.value) == (
        f"LLM host {host} (LLM_BINDING_HOST) is unreachable: connection refused; "
        "check that the server is running"
    )


async def test_unreachable_embedding_host_names_embedding_setting(wire: Wire) -> None:
    host = f"http://127.0.0.1:{closed_port()}"
    config = EmbeddingConfig(wire.binding, "fake-embed", host, dim=8, api_key=KEY, max_retries=1)
    embedder = create_embedding(config, backoff=FAST)
    with pytest.raises(LLMUnavailableError, match=rf"{host} \(EMBEDDING_BINDING_HOST\)"):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_host_without_scheme_is_a_config_error() -> None:
    llm = create_llm(LLMConfig("ollama", "fake-llm", "localhost:11434"), backoff=FAST)
    with pytest.raises(LLMConfigError, match="not a valid URL"):
        await llm.complete("hi")
    await llm.aclose()


# --- concurrency -----------------------------------------------------------------------


async def test_parallel_calls_respect_max_async(wire: Wire, server: FakeLLMServer) -> None:
    server.delay = 0.05
    llm = wire.llm(server, max_async=2)
    answers = await asyncio.gather(*(llm.complete(f"q{i}") for i in range(8)))
    await llm.aclose()
    assert answers == [f"Echo: q{i}" for i in range(8)]
    assert server.max_concurrent == 2


async def test_a_stream_holds_its_slot_until_it_ends(wire: Wire, server: FakeLLMServer) -> None:
    server.delay = 0.05
    llm = wire.llm(server, max_async=1)

    async def read(prompt: str) -> str:
        return "".join([delta async for delta in llm.stream(prompt)])

    answers = await asyncio.gather(*(read(f"story number {i} " * 4) for i in range(3)))
    await llm.aclose()
    assert len(answers) == 3
    assert server.max_concurrent == 1


# --- embeddings ------------------------------------------------------------------------


async def test_embeddings_are_batched_and_float32(wire: Wire, server: FakeLLMServer) -> None:
    texts = [f"text number {i} about Acme Corp" for i in range(7)]
    embedder = wire.embedder(server, batch_num=3, max_async=2)
    vectors = await embedder.embed(texts)
    await embedder.aclose()
    assert vectors.shape == (7, 64)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, [brain.embed(t, 64) for t in texts], rtol=1e-6)
    requests_expected = 7 if wire.binding == "lollms" else 3  # lollms embeds one text a call
    assert len(server.requests) == requests_expected
    assert {path for path, _ in server.requests} == {wire.embed_path}
    assert server.max_concurrent <= 2


async def test_empty_input_makes_no_request(wire: Wire, server: FakeLLMServer) -> None:
    embedder = wire.embedder(server)
    vectors = await embedder.embed([])
    await embedder.aclose()
    assert vectors.shape == (0, 64)
    assert vectors.dtype == np.float32
    assert server.requests == []


async def test_dimension_mismatch_names_embedding_dim(wire: Wire, server: FakeLLMServer) -> None:
    embedder = wire.embedder(server, dim=16)
    with pytest.raises(LLMResponseError, match="returned 64 dims but EMBEDDING_DIM is 16"):
        await embedder.embed(["hello"])
    await embedder.aclose()


@pytest.mark.parametrize("binding", ["openai", "azure_openai", "ollama"])
async def test_send_dim_asks_for_the_configured_size(binding: str, server: FakeLLMServer) -> None:
    wire = next(w for w in WIRES if w.binding == binding)
    embedder = wire.embedder(server, dim=32, send_dim=True)
    vectors = await embedder.embed(["a", "b"])
    await embedder.aclose()
    assert vectors.shape == (2, 32)
    assert server.requests[0][1]["dimensions"] == 32


async def test_embedding_retries_transient_failures(wire: Wire, server: FakeLLMServer) -> None:
    server.fail_next(2, status=500)
    embedder = wire.embedder(server)
    vectors = await embedder.embed(["hello"])
    await embedder.aclose()
    assert vectors.shape == (1, 64)
    assert len(server.requests) == 3


# --- factory and policy details --------------------------------------------------------


def test_unknown_binding_lists_the_allowed_values() -> None:
    with pytest.raises(LLMConfigError, match="LLM_BINDING 'gpt'.*openai, azure_openai"):
        create_llm(LLMConfig("gpt", "m", "http://x"))
    with pytest.raises(LLMConfigError, match="EMBEDDING_BINDING"):
        create_embedding(EmbeddingConfig("nope", "m", "http://x", dim=8))


def test_aws_bedrock_is_an_alias_of_bedrock() -> None:
    config = LLMConfig("aws_bedrock", "amazon.nova-lite-v1:0", "", region="us-east-1")
    llm = create_llm(config)
    assert type(llm).__name__ == "BedrockChat"
    assert llm.identity == "aws_bedrock:amazon.nova-lite-v1:0"


def test_lollms_prompt_round_trips_through_the_fake_parser() -> None:
    history = [{"role": "user", "content": "a\n"}, {"role": "assistant", "content": "b"}]
    prompt = build_prompt("c", "sys", history)
    assert prompt.endswith("!@>assistant:")
    assert parse_lollms_prompt(prompt) == ("sys", [*history, {"role": "user", "content": "c"}])


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    in_two_seconds = format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)
    assert parse_retry_after("1.5") == 1.5
    assert 0.5 < (parse_retry_after(in_two_seconds) or 0) <= 2.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_is_jittered_capped_and_honours_retry_after() -> None:
    backoff = Backoff(base=1.0, cap=4.0, retry_after_cap=10.0)
    delays = [backoff.delay(attempt, None) for attempt in range(1, 30)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert backoff.delay(1, 3.0) >= 3.0
    assert backoff.delay(1, 100.0) <= 10.0
