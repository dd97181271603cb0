"""Ollama's native API: ``/api/chat`` (NDJSON when streaming) and ``/api/embed``."""

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


class OllamaChat(LLMBinding):
    """Chat with a model served by Ollama.

    Parameters
    ----------
    config:
        ``host`` is the server root (``http://localhost:11434``); ``options`` become
        Ollama's ``options`` object (``num_ctx``, ``temperature``, ...). An ``api_key`` is
        sent as a bearer token, for Ollama behind an authenticating proxy.
    backoff:
        Retry wait policy; tests shrink it.

    Examples
    --------
    >>> llm = OllamaChat(LLMConfig("ollama", "qwen2.5:7b", "http://localhost:11434"))
    >>> await llm.complete("Say hi")
    """

    def __init__(self, config: LLMConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, bearer(config.api_key))
        self._url = f"{config.host.rstrip('/')}/api/chat"

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
            body["format"] = "json"
        return self._content(await self._http.post_json(self._url, body))

    async def stream(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AsyncIterator[str]:
        body = self._body(prompt, system_prompt, history, stream=True)
        async with self._http.stream(self._url, body) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                chunk = self._decode(line)
                if content := self._content(chunk):
                    yield content
                if chunk.get("done"):
                    return

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
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": build_messages(prompt, system_prompt, history),
            "stream": stream,
        }
        if self.config.options:
            body["options"] = dict(self.config.options)
        return body

    def _decode(self, line: str) -> dict[str, Any]:
        try:
            chunk = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LLMResponseError(
                f"{self._http.target.where} streamed invalid JSON: {trim(line)}"
            ) from exc
        if not isinstance(chunk, dict):
            raise LLMResponseError(f"{self._http.target.where} streamed {trim(line)}")
        return chunk

    def _content(self, data: Any) -> str:
        if isinstance(data, dict) and "error" in data:
            raise LLMResponseError(f"{self._http.target.where} failed: {trim(str(data['error']))}")
        try:
            return str(data["message"]["content"] or "")
        except (KeyError, TypeError) as exc:
            raise LLMResponseError(
                f"{self._http.target.where} sent a reply without a message: {trim(str(data))}"
            ) from exc


class OllamaEmbedding(BatchedEmbedding):
    """Embeddings from Ollama's ``/api/embed`` (a whole batch per request)."""

    def __init__(self, config: EmbeddingConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, bearer(config.api_key))
        self._url = f"{config.host.rstrip('/')}/api/embed"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.config.model, "input": texts}
        if self.config.send_dim:
            body["dimensions"] = self.config.dim
        data = await self._http.post_json(self._url, body)
        if not isinstance(data, dict) or not isinstance(data.get("embeddings"), list):
            raise LLMResponseError(
                f"{self._http.target.where} sent no embeddings: {trim(str(data))}"
            )
        return list(data["embeddings"])

    async def aclose(self) -> None:
        await self._http.aclose()
