"""OpenAI and OpenAI-compatible hosts (vLLM, LM Studio, OpenRouter, Ollama's /v1, ...).

Chat goes to ``{host}/chat/completions`` and embeddings to ``{host}/embeddings``, where
``host`` includes the API version path, e.g. ``https://api.openai.com/v1``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from lambdarag.llm.base import (
    ChatMessage,
    EmbeddingConfig,
    LLMBinding,
    LLMConfig,
    LLMResponseError,
)
from lambdarag.llm.embedding import BatchedEmbedding
from lambdarag.llm.http import HttpClient, bearer
from lambdarag.llm.messages import build_messages
from lambdarag.llm.retry import Backoff, trim


class OpenAIChat(LLMBinding):
    """Chat completions over the OpenAI protocol.

    Parameters
    ----------
    config:
        ``host`` is the API base (``https://api.openai.com/v1``); ``options`` are merged
        into the request body (``temperature``, ``max_tokens``, ...).
    backoff:
        Retry wait policy; tests shrink it.

    Examples
    --------
    >>> llm = OpenAIChat(LLMConfig("openai", "gpt-4o-mini", "https://api.openai.com/v1", "sk-..."))
    >>> await llm.complete("Say hi", system_prompt="Be brief")
    """

    def __init__(self, config: LLMConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, self._auth_headers())

    def _auth_headers(self) -> dict[str, str]:
        return bearer(self.config.api_key)

    def _chat_url(self) -> str:
        return f"{self.config.host.rstrip('/')}/chat/completions"

    async def complete(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
        json_mode: bool = False,
    ) -> str:
        body = self._body(prompt, system_prompt, history, stream=False)
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        data = await self._http.post_json(self._chat_url(), body)
        try:
            return data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._http.target.where} sent a completion without choices: {trim(str(data))}"
            ) from exc

    async def stream(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AsyncIterator[str]:
        body = self._body(prompt, system_prompt, history, stream=True)
        async with self._http.stream(self._chat_url(), body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    return
                for delta in self._deltas(payload):
                    yield delta

    async def aclose(self) -> None:
        await self._http.aclose()

    def _body(
        self,
        prompt: str,
        system_prompt: str | None,
        history: Sequence[ChatMessage],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        return {
            "model": self.config.model,
            "messages": build_messages(prompt, system_prompt, history),
            "stream": stream,
            **self.config.options,
        }

    def _deltas(self, payload: str) -> list[str]:
        """The non-empty content deltas of one SSE ``data:`` chunk."""
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise LLMResponseError(
                f"{self._http.target.where} streamed invalid JSON: {trim(payload)}"
            ) from exc
        if "error" in chunk:
            raise LLMResponseError(f"{self._http.target.where} failed mid-stream: {trim(payload)}")
        choices = chunk.get("choices") or []
        return [c["delta"]["content"] for c in choices if (c.get("delta") or {}).get("content")]


class OpenAIEmbedding(BatchedEmbedding):
    """Embeddings over the OpenAI protocol (``POST {host}/embeddings``).

    ``config.send_dim`` adds ``dimensions`` to the request, for models that can shorten
    their vectors (``text-embedding-3-*``).
    """

    def __init__(self, config: EmbeddingConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, self._auth_headers())

    def _auth_headers(self) -> dict[str, str]:
        return bearer(self.config.api_key)

    def _embeddings_url(self) -> str:
        return f"{self.config.host.rstrip('/')}/embeddings"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "input": texts,
            "encoding_format": "float",
        }
        if self.config.send_dim:
            body["dimensions"] = self.config.dim
        data = await self._http.post_json(self._embeddings_url(), body)
        try:
            rows = sorted(data["data"], key=lambda row: row["index"])
            return [row["embedding"] for row in rows]
        except (KeyError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._http.target.where} sent embeddings without data: {trim(str(data))}"
            ) from exc

    async def aclose(self) -> None:
        await self._http.aclose()
