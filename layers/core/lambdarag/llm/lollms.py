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

from lambdarag.llm.base import ChatMessage, LLMResponseError, build_messages
from lambdarag.llm.http import HttpChat, HttpEmbedding
from lambdarag.llm.retry import trim

ROLE_HEADER = "!@>{role}:"


def build_prompt(prompt: str, system_prompt: str | None, history: Sequence[ChatMessage]) -> str:
    """The conversation as one lollms prompt: a ``!@>role:`` header line before each turn."""
    return prompt_of(build_messages(prompt, system_prompt, history))


def prompt_of(messages: Sequence[ChatMessage]) -> str:
    """``messages`` as one lollms prompt, ending with an open assistant turn."""
    turns = [f"{ROLE_HEADER.format(role=m['role'])}\n{m['content']}" for m in messages]
    return "\n".join([*turns, ROLE_HEADER.format(role="assistant")])


class LollmsChat(HttpChat):
    """Text generation on a lollms server.

    Settings: ``host`` is the server root (``http://localhost:9600``); ``model`` is sent as
    ``model_name``; ``options`` (``n_predict``, ``temperature``, ``top_k``, ...) are merged
    into the request body.

    Notes
    -----
    lollms has no JSON mode; ``json_mode`` is accepted and the prompt alone asks for JSON.

    Examples
    --------
    >>> llm = LollmsChat(LLMConfig("lollms", "mistral-7b", "http://localhost:9600"))
    >>> await llm.complete("Say hi")
    """

    path = "/lollms_generate"

    def _body(self, messages: list[ChatMessage], *, stream: bool, json_mode: bool) -> dict[str, Any]:
        return {
            "prompt": prompt_of(messages),
            "model_name": self.config.model or None,
            "personality": -1,
            "stream": stream,
            **self.config.options,
        }

    def _reply(self, response: httpx.Response) -> str:
        """The generated text; a JSON body is either a quoted string or a failure report."""
        if not _is_json(response):
            return response.text
        data = response.json()
        if isinstance(data, str):
            return data
        error = data.get("error") if isinstance(data, dict) else None
        raise LLMResponseError(f"{self._where} failed to generate: {trim(str(error or data))}")

    async def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        if _is_json(response):
            await response.aread()
            yield self._reply(response)
            return
        async for chunk in response.aiter_text():
            if chunk:
                yield chunk


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


class LollmsEmbedding(HttpEmbedding):
    """Vectors from lollms' ``/lollms_embed``, one request per text.

    lollms embeds with its configured vectorizer; ``config.model`` is not sent.
    """

    path = "/lollms_embed"

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        return list(await asyncio.gather(*(self._embed_one(text) for text in texts)))

    async def _embed_one(self, text: str) -> list[float]:
        data = await self._http.post_json(self._url, {"text": text})
        if not isinstance(data, dict) or not isinstance(data.get("vector"), list):
            raise LLMResponseError(f"{self._where} sent no vector: {trim(str(data))}")
        return list(data["vector"])
