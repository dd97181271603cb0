"""The Bedrock bindings against a botocore-stubbed ``bedrock-runtime`` client.

There is no local Bedrock: request/response pairs are stubbed with ``botocore.stub.Stubber``
(exact expected parameters), and ConverseStream answers real event-stream bytes through a
``before-send`` hook so botocore's own parser decodes them.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from lambdarag.llm import (
    EmbeddingConfig,
    LLMConfig,
    LLMConfigError,
    LLMResponseError,
    LLMUnavailableError,
)
from lambdarag.llm.bedrock import BedrockChat, BedrockEmbedding
from lambdarag.llm.retry import Backoff

FAST = Backoff(base=0.001, cap=0.005)
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ENDPOINT = "https://bedrock-runtime.us-east-1.amazonaws.com"


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def stubber(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def chat(client: Any, **overrides: Any) -> BedrockChat:
    settings: dict[str, Any] = {"region": "us-east-1", "max_retries": 2, **overrides}
    return BedrockChat(LLMConfig("bedrock", MODEL, "", **settings), client=client, backoff=FAST)


def converse_answer(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
        "metrics": {"latencyMs": 5},
    }


def converse_params(text: str = "hi") -> dict[str, Any]:
    return {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": text}]}]}


def json_body(payload: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(payload).encode()
    return {"body": StreamingBody(io.BytesIO(data), len(data)), "contentType": "application/json"}


# --- chat ------------------------------------------------------------------------------


async def test_complete_sends_system_history_and_inference_config(
    client: Any, stubber: Stubber
) -> None:
    # GIVEN a history with two user turns in a row and inference options
    history = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "aside"},
    ]
    expected = {
        "modelId": MODEL,
        "messages": [
            {"role": "user", "content": [{"text": "q1"}]},
            {"role": "assistant", "content": [{"text": "a1"}]},
            {"role": "user", "content": [{"text": "aside"}, {"text": "q2"}]},
        ],
        "system": [{"text": "be brief"}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.0},
        "additionalModelRequestFields": {"top_k": 5},
    }
    stubber.add_response("converse", converse_answer("Paris"), expected)
    llm = chat(client, options={"max_tokens": 50, "temperature": 0.0, "top_k": 5})
    # WHEN it completes
    answer = await llm.complete("q2", system_prompt="be brief", history=history)
    # THEN Converse got exactly that request and the answer is the text block
    assert answer == "Paris"


async def test_throttling_is_retried(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "converse", service_error_code="ThrottlingException", http_status_code=429
    )
    stubber.add_response("converse", converse_answer("ok"), converse_params())
    assert await chat(client).complete("hi") == "ok"


async def test_exhausted_retries_name_endpoint_and_region_setting(
    client: Any, stubber: Stubber
) -> None:
    for _ in range(3):
        stubber.add_client_error(
            "converse", service_error_code="ServiceUnavailableException", http_status_code=503
        )
    with pytest.raises(LLMUnavailableError, match=rf"LLM host {ENDPOINT} \(AWS_REGION\)"):
        await chat(client).complete("hi")


async def test_access_denied_names_aws_credentials(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "converse",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
        http_status_code=403,
    )
    with pytest.raises(LLMConfigError, match="AWS credentials"):
        await chat(client).complete("hi")


async def test_validation_error_is_a_response_error(client: Any, stubber: Stubber) -> None:
    stubber.add_client_error(
        "converse", service_error_code="ValidationException", http_status_code=400
    )
    with pytest.raises(LLMResponseError, match="ValidationException"):
        await chat(client).complete("hi")


def _event(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message (prelude, string headers, JSON payload, CRCs)."""

    def header(name: str, value: str) -> bytes:
        key, data = name.encode(), value.encode()
        return struct.pack("B", len(key)) + key + b"\x07" + struct.pack(">H", len(data)) + data

    headers = (
        header(":event-type", event_type)
        + header(":content-type", "application/json")
        + header(":message-type", "event")
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


class _RawStream:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def close(self) -> None:
        """Nothing to release."""


async def test_stream_yields_the_text_deltas(client: Any) -> None:
    deltas = ["Hello", " wor", "ld"]
    data = b"".join(
        [_event("messageStart", {"role": "assistant"})]
        + [
            _event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": d}})
            for d in deltas
        ]
        + [_event("messageStop", {"stopReason": "end_turn"})]
    )
    sent: list[dict[str, Any]] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(json.loads(request.body))
        headers = {"content-type": "application/vnd.amazon.eventstream"}
        return AWSResponse(request.url, 200, headers, _RawStream(data))

    client.meta.events.register("before-send.bedrock-runtime.ConverseStream", answer)
    received = [delta async for delta in chat(client).stream("hi", system_prompt="sys")]
    assert received == deltas
    assert sent == [
        {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "system": [{"text": "sys"}]}
    ]


# --- embeddings ------------------------------------------------------------------------


def embedder(client: Any, model: str, **overrides: Any) -> BedrockEmbedding:
    settings: dict[str, Any] = {"region": "us-east-1", "batch_num": 2, "max_async": 1}
    config = EmbeddingConfig("bedrock", model, "", dim=4, **{**settings, **overrides})
    return BedrockEmbedding(config, client=client, backoff=FAST)


def invoke_params(model: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "modelId": model,
        "body": json.dumps(body),
        "contentType": "application/json",
        "accept": "application/json",
    }


async def test_titan_v2_embeds_one_text_per_call(client: Any, stubber: Stubber) -> None:
    model = "amazon.titan-embed-text-v2:0"
    texts = ["alpha", "beta", "gamma"]
    for i, text in enumerate(texts):
        body = {"inputText": text, "dimensions": 4, "normalize": True}
        answer = json_body({"embedding": [float(i)] * 4, "inputTextTokenCount": 1})
        stubber.add_response("invoke_model", answer, invoke_params(model, body))
    vectors = await embedder(client, model).embed(texts)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, [[0.0] * 4, [1.0] * 4, [2.0] * 4])


async def test_cohere_embeds_a_batch_per_call(client: Any, stubber: Stubber) -> None:
    model = "cohere.embed-english-v3"
    for batch, rows in ((["a", "b"], [[1.0] * 4, [2.0] * 4]), (["c"], [[3.0] * 4])):
        body = {"texts": batch, "input_type": "search_document"}
        answer = json_body({"embeddings": rows, "id": "x", "response_type": "embeddings_floats"})
        stubber.add_response("invoke_model", answer, invoke_params(model, body))
    vectors = await embedder(client, model).embed(["a", "b", "c"])
    assert vectors.shape == (3, 4)
    assert vectors[:, 0].tolist() == [1.0, 2.0, 3.0]


async def test_embedding_dimension_mismatch(client: Any, stubber: Stubber) -> None:
    model = "amazon.titan-embed-text-v2:0"
    body = {"inputText": "x", "dimensions": 4, "normalize": True}
    stubber.add_response(
        "invoke_model", json_body({"embedding": [0.5] * 8}), invoke_params(model, body)
    )
    with pytest.raises(LLMResponseError, match="returned 8 dims but EMBEDDING_DIM is 4"):
        await embedder(client, model).embed(["x"])


def test_unsupported_embedding_model_is_a_config_error(client: Any) -> None:
    with pytest.raises(LLMConfigError, match="EMBEDDING_MODEL"):
        embedder(client, "amazon.nova-lite-v1:0")
