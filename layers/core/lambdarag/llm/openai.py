"""OpenAI and OpenAI-compatible hosts (vLLM, LM Studio, OpenRouter, Ollama's /v1, ...).

Chat goes to ``{host}/chat/completions`` and embeddings to ``{host}/embeddings``, where
``host`` includes the API version path, e.g. ``https://api.openai.com/v1``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from lambdarag.llm.base import ChatMessage, LLMResponseError
from lambdarag.llm.http import HttpChat, HttpEmbedding
from lambdarag.llm.retry import trim


class OpenAIChat(HttpChat):
    """Chat completions over the OpenAI protocol.

    Settings: ``host`` is the API base (``https://api.openai.com/v1``); ``options`` are
    merged into the request body (``temperature``, ``max_tokens``, ...).

    Examples
    --------
    >>> llm = OpenAIChat(LLMConfig("openai", "gpt-4o-mini", "https://api.openai.com/v1", "sk-..."))
    >>> await llm.complete("Say hi", system_prompt="Be brief")
    """

    path = "/chat/completions"

    def _body(self, messages: list[ChatMessage], *, stream: bool, json_mode: bool) -> dict[str, Any]:
        body = {"model": self.config.model, "messages": messages, "stream": stream,
                **self.config.options}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _reply(self, response: httpx.Response) -> str:
        data = self._http.decode(response)
        try:
            return data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._where} sent a completion without choices: {trim(str(data))}"
            ) from exc

    async def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            payload = line[len("data:") :].strip()
            if payload == "[DONE]":
                return
            for delta in self._chunk_deltas(payload):
                yield delta

    def _chunk_deltas(self, payload: str) -> list[str]:
        """The non-empty content deltas of one SSE ``data:`` chunk."""
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise LLMResponseError(f"{self._where} streamed invalid JSON: {trim(payload)}") from exc
        if "error" in chunk:
            raise LLMResponseError(f"{self._where} failed mid-stream: {trim(payload)}")
        choices = chunk.get("choices") or []
        return [c["delta"]["content"] for c in choices if (c.get("delta") or {}).get("content")]


class OpenAIEmbedding(HttpEmbedding):
    """Embeddings over the OpenAI protocol (``POST {host}/embeddings``).

    ``config.send_dim`` adds ``dimensions`` to the request, for models that can shorten
    their vectors (``text-embedding-3-*``).
    """

    path = "/embeddings"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "input": texts,
            "encoding_format": "float",
        }
        if self.config.send_dim:
            body["dimensions"] = self.config.dim
        data = await self._http.post_json(self._url, body)
        try:
            rows = sorted(data["data"], key=lambda row: row["index"])
            return [row["embedding"] for row in rows]
        except (KeyError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._where} sent embeddings without data: {trim(str(data))}"
            ) from exc
