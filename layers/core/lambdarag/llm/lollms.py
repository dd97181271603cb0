"""The lollms server: ``/lollms_generate`` for text and ``/lollms_embed`` for vectors.

lollms generates from one prompt string, not a message list, so the conversation is
flattened with lollms' ``!@>role:`` headers and ends with an open ``!@>assistant:`` turn.
``/lollms_generate`` answers with plain text (streamed as plain-text chunks), or with a
JSON ``{"status": false, "error": ...}`` object when generation failed.
``/lollms_embed`` takes one text (``{"text": ...}``) and answers ``{"vector": [...]}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

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

ROLE_HEADER = "!@>{role}:"


def build_prompt(prompt: str, system_prompt: str | None, history: Sequence[ChatMessage]) -> str:
    """The conversation as one lollms prompt: a ``!@>role:`` header line before each turn."""
    turns = [
        f"{ROLE_HEADER.format(role=m['role'])}\n{m['content']}"
        for m in build_messages(prompt, system_prompt, history)
    ]
    return "\n".join([*turns, ROLE_HEADER.format(role="assistant")])


class LollmsChat(LLMBinding):
    """Text generation on a lollms server.

    Parameters
    ----------
    config:
        ``host`` is the server root (``http://localhost:9600``); ``model`` is sent as
        ``model_name``; ``options`` (``n_predict``, ``temperature``, ``top_k``, ...) are
        merged into the request body.
    backoff:
        Retry wait policy; tests shrink it.

    Notes
    -----
    lollms has no JSON mode; ``json_mode`` is accepted and the prompt alone asks for JSON.

    Examples
    --------
    >>> llm = LollmsChat(LLMConfig("lollms", "mistral-7b", "http://localhost:9600"))
    >>> await llm.complete("Say hi")
    """

    def __init__(self, config: LLMConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, bearer(config.api_key))
        self._url = f"{config.host.rstrip('/')}/lollms_generate"

    async def complete(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
        json_mode: bool = False,
    ) -> str:
        body = self._body(prompt, system_prompt, history, stream=False)
        return self._text(await self._http.post(self._url, body))

    async def stream(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AsyncIterator[str]:
        body = self._body(prompt, system_prompt, history, stream=True)
        async with self._http.stream(self._url, body) as response:
            if _is_json(response):
                await response.aread()
                yield self._text(response)
                return
            async for chunk in response.aiter_text():
                if chunk:
                    yield chunk

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
            "prompt": build_prompt(prompt, system_prompt, history),
            "model_name": self.config.model or None,
            "personality": -1,
            "stream": stream,
            **self.config.options,
        }

    def _text(self, response: httpx.Response) -> str:
        """The generated text; a JSON body is either a quoted string or a failure report."""
        if not _is_json(response):
            return response.text
        data = response.json()
        if isinstance(data, str):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        raise LLMResponseError(
            f"{self._http.target.where} failed to generate: {trim(str(error or data))}"
        )


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


class LollmsEmbedding(BatchedEmbedding):
    """Vectors from lollms' ``/lollms_embed``, one request per text.

    lollms embeds with its configured vectorizer; ``config.model`` is not sent.
    """

    def __init__(self, config: EmbeddingConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._http = HttpClient.for_config(config, backoff, bearer(config.api_key))
        self._url = f"{config.host.rstrip('/')}/lollms_embed"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        return list(await asyncio.gather(*(self._embed_one(text) for text in texts)))

    async def _embed_one(self, text: str) -> list[float]:
        data = await self._http.post_json(self._url, {"text": text})
        if not isinstance(data, dict) or not isinstance(data.get("vector"), list):
            raise LLMResponseError(f"{self._http.target.where} sent no vector: {trim(str(data))}")
        return list(data["vector"])

    async def aclose(self) -> None:
        await self._http.aclose()
