"""Amazon Bedrock: Converse / ConverseStream for chat, InvokeModel for embeddings.

Credentials and region come from the usual AWS chain (environment, profile, execution
role); ``config.region`` overrides the region and an ``http(s)://`` ``config.host`` is
used as the endpoint URL (e.g. a VPC endpoint). Tests inject a stubbed client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from lambdarag.llm.base import LLMBinding, LLMConfigError, LLMResponseError
from lambdarag.llm.bedrock_client import BedrockCaller, make_client
from lambdarag.llm.embedding import BatchedEmbedding
from lambdarag.llm.retry import Backoff, Target, trim

if TYPE_CHECKING:
    from lambdarag.llm.base import ChatMessage, EmbeddingConfig, LLMConfig

INFERENCE_OPTIONS = {
    "max_tokens": "maxTokens",
    "maxTokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "topP": "topP",
    "stop": "stopSequences",
    "stopSequences": "stopSequences",
}


def _caller(
    config: LLMConfig | EmbeddingConfig, client: Any | None, backoff: Backoff | None
) -> BedrockCaller:
    endpoint = config.host if config.host.startswith(("http://", "https://")) else None
    client = client or make_client(config.region, endpoint, config.timeout)
    target = Target.of(
        config,
        host=str(client.meta.endpoint_url),
        host_setting=config.host_setting if endpoint else "AWS_REGION",
    )
    return BedrockCaller(
        client,
        target,
        max_async=config.max_async,
        max_retries=config.max_retries,
        backoff=backoff or Backoff(),
    )


def converse_request(config: LLMConfig, messages: Sequence[ChatMessage]) -> dict[str, Any]:
    """Converse parameters: system blocks, alternating turns, inference settings."""
    systems = [m["content"] for m in messages if m["role"] == "system"]
    turns = [m for m in messages if m["role"] != "system"]
    request: dict[str, Any] = {"modelId": config.model, "messages": _alternating(turns)}
    if systems:
        request["system"] = [{"text": text} for text in systems]
    inference = {
        INFERENCE_OPTIONS[k]: v for k, v in config.options.items() if k in INFERENCE_OPTIONS
    }
    extra = {k: v for k, v in config.options.items() if k not in INFERENCE_OPTIONS}
    if inference:
        request["inferenceConfig"] = inference
    if extra:
        request["additionalModelRequestFields"] = extra
    return request


def _alternating(turns: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Converse turns must alternate; consecutive same-role turns become one multi-block turn."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        block = {"text": turn["content"]}
        if messages and messages[-1]["role"] == turn["role"]:
            messages[-1]["content"].append(block)
        else:
            messages.append({"role": turn["role"], "content": [block]})
    return messages


class BedrockChat(LLMBinding):
    """Chat with a Bedrock model through the Converse API.

    Parameters
    ----------
    config:
        ``model`` is a model or inference-profile id; ``options`` ``max_tokens``,
        ``temperature``, ``top_p`` and ``stop`` go to ``inferenceConfig``, any other key to
        ``additionalModelRequestFields``.
    client:
        A ``bedrock-runtime`` client to use instead of building one (tests pass a
        Stubber-backed client). An injected client is not closed by :meth:`aclose`.
    backoff:
        Retry wait policy; tests shrink it.

    Notes
    -----
    Converse has no JSON mode; ``json_mode`` is accepted and the prompt alone asks for JSON.

    Examples
    --------
    >>> llm = BedrockChat(LLMConfig("bedrock", "amazon.nova-lite-v1:0", "", region="us-east-1"))
    >>> await llm.complete("Say hi")
    """

    def __init__(
        self, config: LLMConfig, *, client: Any | None = None, backoff: Backoff | None = None
    ) -> None:
        self.config = config
        self._owns_client = client is None
        self._aws = _caller(config, client, backoff)

    async def _complete(self, messages: list[ChatMessage], *, json_mode: bool) -> str:
        request = converse_request(self.config, messages)
        response = await self._aws.call(lambda: self._aws.client.converse(**request))
        try:
            blocks = response["output"]["message"]["content"]
        except (KeyError, TypeError) as exc:
            raise LLMResponseError(
                f"Bedrock sent no message for {self.config.model!r}: {trim(str(response))}"
            ) from exc
        return "".join(block.get("text", "") for block in blocks)

    async def _stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        request = converse_request(self.config, messages)
        async with self._aws.limit:
            response = await self._aws.call(
                lambda: self._aws.client.converse_stream(**request), hold_limit=False
            )
            async for event in self._aws.events(response["stream"]):
                if text := event.get("contentBlockDelta", {}).get("delta", {}).get("text"):
                    yield text

    async def aclose(self) -> None:
        if self._owns_client:
            self._aws.client.close()


class BedrockEmbedding(BatchedEmbedding):
    """Bedrock embeddings: Titan text (one text per call) or Cohere embed (a batch per call).

    Titan v2 (``amazon.titan-embed-text-v2:0``) is asked for ``config.dim`` dimensions,
    normalised. Cohere (``cohere.embed-*``) embeds documents (``input_type``
    ``search_document``). ``client`` and ``backoff`` as for :class:`BedrockChat`.
    """

    def __init__(
        self, config: EmbeddingConfig, *, client: Any | None = None, backoff: Backoff | None = None
    ) -> None:
        if "titan-embed" not in config.model and "cohere.embed" not in config.model:
            raise LLMConfigError(
                f"Bedrock embedding model {config.model!r} (EMBEDDING_MODEL) is not supported; "
                "use amazon.titan-embed-text-v2:0 or a cohere.embed-* model"
            )
        self.config = config
        self._owns_client = client is None
        self._aws = _caller(config, client, backoff)

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        if "cohere.embed" in self.config.model:
            data = await self._invoke({"texts": texts, "input_type": "search_document"})
            vectors = data.get("embeddings")
            return list(vectors.get("float", []) if isinstance(vectors, dict) else vectors or [])
        return list(await asyncio.gather(*(self._titan(text) for text in texts)))

    async def _titan(self, text: str) -> list[float]:
        body: dict[str, Any] = {"inputText": text}
        if "titan-embed-text-v2" in self.config.model:
            body.update(dimensions=self.config.dim, normalize=True)
        data = await self._invoke(body)
        if not isinstance(data.get("embedding"), list):
            raise LLMResponseError(f"Bedrock sent no embedding: {trim(str(data))}")
        return list(data["embedding"])

    async def _invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        params = {
            "modelId": self.config.model,
            "body": json.dumps(body),
            "contentType": "application/json",
            "accept": "application/json",
        }

        def invoke() -> dict[str, Any]:
            response = self._aws.client.invoke_model(**params)
            return dict(json.loads(response["body"].read()))

        return await self._aws.call(invoke)

    async def aclose(self) -> None:
        if self._owns_client:
            self._aws.client.close()
