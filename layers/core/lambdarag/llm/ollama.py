"""Ollama's native API: ``/api/chat`` (NDJSON when streaming) and ``/api/embed``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from lambdarag.llm.base import ChatMessage, LLMResponseError
from lambdarag.llm.http import HttpChat, HttpEmbedding
from lambdarag.llm.retry import trim


class OllamaChat(HttpChat):
    """Chat with a model served by Ollama.

    Settings: ``host`` is the server root (``http://localhost:11434``); ``options`` become
    Ollama's ``options`` object (``num_ctx``, ``temperature``, ...). An ``api_key`` is sent
    as a bearer token, for Ollama behind an authenticating proxy.

    Examples
    --------
    >>> llm = OllamaChat(LLMConfig("ollama", "qwen2.5:7b", "http://localhost:11434"))
    >>> await llm.complete("Say hi")
    """

    path = "/api/chat"

    def _body(self, messages: list[ChatMessage], *, stream: bool, json_mode: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, "messages": messages, "stream": stream}
        if self.config.options:
            body["options"] = dict(self.config.options)
        if json_mode:
            body["format"] = "json"
        return body

    def _reply(self, response: httpx.Response) -> str:
        return self._content(self._http.decode(response))

    async def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            chunk = self._decode(line)
            if content := self._content(chunk):
                yield content
            if chunk.get("done"):
                return

    def _decode(self, line: str) -> dict[str, Any]:
        try:
            chunk = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LLMResponseError(f"{self._where} streamed invalid JSON: {trim(line)}") from exc
        if not isinstance(chunk, dict):
            raise LLMResponseError(f"{self._where} streamed {trim(line)}")
        return chunk

    def _content(self, data: Any) -> str:
        if isinstance(data, dict) and "error" in data:
            raise LLMResponseError(f"{self._where} failed: {trim(str(data['error']))}")
        try:
            return str(data["message"]["content"] or "")
        except (KeyError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._where} sent a reply without a message: {trim(str(data))}"
            ) from exc


class OllamaEmbedding(HttpEmbedding):
    """Embeddings from Ollama's ``/api/embed`` (a whole batch per request)."""

    path = "/api/embed"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.config.model, "input": texts}
        if self.config.send_dim:
            body["dimensions"] = self.config.dim
        if self.config.options:  # OLLAMA_EMBEDDING_* (num_ctx, ...)
            body["options"] = dict(self.config.options)
        data = await self._http.post_json(self._url, body)
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), list):
            raise LLMResponseError(f"{self._where} sent no embeddings: {trim(str(data))}")
        return list(data["embeddings"])
