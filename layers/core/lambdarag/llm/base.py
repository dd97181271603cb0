"""LLM and embedding binding contracts.

A binding talks to one provider over its wire protocol (httpx, or boto3 for
Bedrock). The engine only sees these classes (and the reranker's, in ``llm/rerank.py``); concurrency limits, retries
and timeouts live inside the bindings so every caller gets them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from lambdarag.errors import LambdaRAGError

if TYPE_CHECKING:
    import numpy as np


class ChatMessage(TypedDict):
    role: str
    content: str


class LLMError(LambdaRAGError):
    """Base error of the LLM, embedding and rerank bindings.

    Over HTTP a provider's failure is the gateway's: 502 when it answered with an error
    or something unusable, 503 when it cannot be reached, 504 when it did not answer in
    time.
    """

    http_status = 502


class LLMConfigError(LLMError):
    """A binding is misconfigured (unknown binding, missing key, bad host)."""

    exit_code = 2


class LLMUnavailableError(LLMError):
    """The provider could not be reached or kept failing after retries.

    The message names the host and the setting that points at it, e.g.
    ``LLM host http://localhost:11434 (LLM_BINDING_HOST) is unreachable: connection refused``.
    """

    retryable = True


class LLMUnreachableError(LLMUnavailableError):
    """The provider's host could not be connected to (refused, unknown name, dropped)."""

    http_status = 503


class LLMTimeoutError(LLMUnavailableError):
    """The provider accepted the connection but did not answer within its timeout."""

    http_status = 504


class LLMResponseError(LLMError):
    """The provider answered with something that is not a usable completion/embedding."""


@dataclass(frozen=True)
class LLMConfig:
    """What a chat binding needs; built from Settings at the composition root."""

    binding: str  # openai | azure_openai | ollama | lollms | bedrock
    model: str
    host: str
    api_key: str | None = None
    timeout: float = 240.0
    max_async: int = 4
    api_version: str | None = None  # azure_openai
    region: str | None = None  # bedrock
    options: dict[str, Any] = field(default_factory=dict)  # provider options (temperature, num_ctx, ...)
    max_retries: int = 5
    host_setting: str = "LLM_BINDING_HOST"  # named in error messages


@dataclass(frozen=True)
class EmbeddingConfig:
    binding: str
    model: str
    host: str
    dim: int
    api_key: str | None = None
    timeout: float = 30.0
    max_async: int = 8
    batch_num: int = 10
    send_dim: bool = False
    api_version: str | None = None
    region: str | None = None
    max_retries: int = 5
    host_setting: str = "EMBEDDING_BINDING_HOST"
    options: dict[str, Any] = field(default_factory=dict)  # provider options (num_ctx, ...)


@dataclass(frozen=True)
class RerankConfig:
    """What a rerank binding needs; ``host`` is the full endpoint, as LightRAG takes it."""

    binding: str  # cohere | jina | aliyun
    model: str
    host: str
    api_key: str | None = None
    timeout: float = 30.0
    max_async: int = 4
    max_retries: int = 5
    host_setting: str = "RERANK_BINDING_HOST"
    enable_chunking: bool = False  # RERANK_ENABLE_CHUNKING: score long documents by windows
    max_tokens_per_doc: int = 4096  # RERANK_MAX_TOKENS_PER_DOC: the window, in tokens


def build_messages(
    prompt: str, system_prompt: str | None, history: Sequence[ChatMessage]
) -> list[ChatMessage]:
    """System prompt first, then the history in order, then the new user prompt."""
    messages: list[ChatMessage] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.extend({"role": m["role"], "content": m["content"]} for m in history)
    messages.append({"role": "user", "content": prompt})
    return messages


class LLMBinding(ABC):
    """A chat model. ``complete`` returns the whole answer; ``stream`` yields deltas.

    Both assemble the conversation once (:func:`build_messages`) and hand it to the
    binding's :meth:`_complete` / :meth:`_stream`, so a binding only speaks its protocol.
    """

    config: LLMConfig

    async def complete(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
        json_mode: bool = False,
    ) -> str:
        messages = build_messages(prompt, system_prompt, history)
        return await self._complete(messages, json_mode=json_mode)

    def stream(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AsyncIterator[str]:
        return self._stream(build_messages(prompt, system_prompt, history))

    @abstractmethod
    async def _complete(self, messages: list[ChatMessage], *, json_mode: bool) -> str:
        """The whole answer to the conversation ``messages``."""

    @abstractmethod
    def _stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        """The answer to ``messages`` as text deltas (an async generator)."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @property
    def identity(self) -> str:
        """Stable string naming binding + model (part of cache keys)."""
        return f"{self.config.binding}:{self.config.model}"


class EmbeddingBinding(ABC):
    """An embedding model; ``embed`` batches by ``batch_num`` and returns float32 rows."""

    config: EmbeddingConfig

    @property
    def dim(self) -> int:
        return self.config.dim

    @abstractmethod
    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    @abstractmethod
    async def aclose(self) -> None: ...
