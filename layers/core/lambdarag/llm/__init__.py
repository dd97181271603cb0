"""LLM and embedding bindings: pick one by name with :func:`create_llm` / :func:`create_embedding`.

Binding modules are imported on demand, so an OpenAI deployment never imports boto3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdarag.llm.base import (
    ChatMessage,
    EmbeddingBinding,
    EmbeddingConfig,
    LLMBinding,
    LLMConfig,
    LLMConfigError,
    LLMError,
    LLMResponseError,
    LLMUnavailableError,
)

if TYPE_CHECKING:
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
    "LLMUnavailableError",
    "create_embedding",
    "create_llm",
]

BINDINGS = ("openai", "azure_openai", "ollama", "lollms", "bedrock")
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


def create_llm(config: LLMConfig, *, backoff: Backoff | None = None) -> LLMBinding:
    """The chat binding named by ``config.binding`` (``LLM_BINDING``)."""
    name = _binding_name(config.binding, "LLM_BINDING")
    if name == "openai":
        from lambdarag.llm.openai import OpenAIChat

        return OpenAIChat(config, backoff=backoff)
    if name == "azure_openai":
        from lambdarag.llm.azure_openai import AzureOpenAIChat

        return AzureOpenAIChat(config, backoff=backoff)
    if name == "ollama":
        from lambdarag.llm.ollama import OllamaChat

        return OllamaChat(config, backoff=backoff)
    if name == "lollms":
        from lambdarag.llm.lollms import LollmsChat

        return LollmsChat(config, backoff=backoff)
    from lambdarag.llm.bedrock import BedrockChat

    return BedrockChat(config, backoff=backoff)


def create_embedding(
    config: EmbeddingConfig, *, backoff: Backoff | None = None
) -> EmbeddingBinding:
    """The embedding binding named by ``config.binding`` (``EMBEDDING_BINDING``)."""
    name = _binding_name(config.binding, "EMBEDDING_BINDING")
    if name == "openai":
        from lambdarag.llm.openai import OpenAIEmbedding

        return OpenAIEmbedding(config, backoff=backoff)
    if name == "azure_openai":
        from lambdarag.llm.azure_openai import AzureOpenAIEmbedding

        return AzureOpenAIEmbedding(config, backoff=backoff)
    if name == "ollama":
        from lambdarag.llm.ollama import OllamaEmbedding

        return OllamaEmbedding(config, backoff=backoff)
    if name == "lollms":
        from lambdarag.llm.lollms import LollmsEmbedding

        return LollmsEmbedding(config, backoff=backoff)
    from lambdarag.llm.bedrock import BedrockEmbedding

    return BedrockEmbedding(config, backoff=backoff)
