"""LLM and embedding bindings: pick one by name with :func:`create_llm` / :func:`create_embedding`.

Binding modules are imported on demand, so an OpenAI deployment never imports boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lambdarag.llm.base import (
    ChatMessage,
    EmbeddingBinding,
    EmbeddingConfig,
    LLMBinding,
    LLMConfig,
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnavailableError,
    LLMUnreachableError,
)

if TYPE_CHECKING:
    from lambdarag.llm.base import RerankConfig
    from lambdarag.llm.rerank import RerankBinding
    from lambdarag.llm.retry import Backoff

__all__ = [
    "BINDINGS",
    "ChatMessage",
    "EmbeddingBinding",
    "EmbeddingConfig",
    "LLMBinding",
    "LLMConfig",
    "LLMConfigError",
    "LLMError",
    "LLMResponseError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "LLMUnreachableError",
    "create_embedding",
    "create_llm",
    "create_rerank",
]

_ALIASES = {"aws_bedrock": "bedrock"}


def _binding_name(binding: str, setting: str) -> str:
    name = binding.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in BINDINGS:
        raise LLMConfigError(
            f"unknown {setting} {binding!r}; use one of: {', '.join(BINDINGS)} "
            "(aws_bedrock is accepted for bedrock)"
        )
    return name


# binding -> (module, chat class, embedding class); modules are imported on first use
_IMPLEMENTATIONS = {
    "openai": ("openai", "OpenAIChat", "OpenAIEmbedding"),
    "azure_openai": ("azure_openai", "AzureOpenAIChat", "AzureOpenAIEmbedding"),
    "ollama": ("ollama", "OllamaChat", "OllamaEmbedding"),
    "lollms": ("lollms", "LollmsChat", "LollmsEmbedding"),
    "bedrock": ("bedrock", "BedrockChat", "BedrockEmbedding"),
}
BINDINGS = tuple(_IMPLEMENTATIONS)


def _implementation(name: str, kind: int) -> Any:
    module, *classes = _IMPLEMENTATIONS[name]
    return getattr(importlib.import_module(f"lambdarag.llm.{module}"), classes[kind])


def create_llm(config: LLMConfig, *, backoff: Backoff | None = None) -> LLMBinding:
    """The chat binding named by ``config.binding`` (``LLM_BINDING``)."""
    name = _binding_name(config.binding, "LLM_BINDING")
    return _implementation(name, 0)(config, backoff=backoff)  # type: ignore[no-any-return]


def create_rerank(config: RerankConfig, *, backoff: Backoff | None = None) -> RerankBinding:
    """The rerank binding named by ``config.binding`` (``RERANK_BINDING``)."""
    from lambdarag.llm.rerank import create_rerank as create

    return create(config, backoff=backoff)


def create_embedding(
    config: EmbeddingConfig, *, backoff: Backoff | None = None
) -> EmbeddingBinding:
    """The embedding binding named by ``config.binding`` (``EMBEDDING_BINDING``)."""
    name = _binding_name(config.binding, "EMBEDDING_BINDING")
    return _implementation(name, 1)(config, backoff=backoff)  # type: ignore[no-any-return]
