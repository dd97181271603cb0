"""Azure OpenAI: the OpenAI protocol at per-deployment URLs with an ``api-key`` header.

``host`` is the resource endpoint (``https://<resource>.openai.azure.com``) and ``model``
the deployment name; requests go to
``{host}/openai/deployments/{model}/chat/completions?api-version=...``.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from lambdarag.llm.base import EmbeddingConfig, LLMConfig
from lambdarag.llm.openai import OpenAIChat, OpenAIEmbedding

DEFAULT_API_VERSION = "2024-10-21"


def _deployment_url(host: str, deployment: str, operation: str, api_version: str | None) -> str:
    version = quote(api_version or DEFAULT_API_VERSION, safe="")
    return (
        f"{host.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}/{operation}"
        f"?api-version={version}"
    )


class _Deployment:
    """Azure's URL scheme and ``api-key`` header for an OpenAI-protocol binding."""

    operation: ClassVar[str]
    config: LLMConfig | EmbeddingConfig

    def _auth_headers(self) -> dict[str, str]:
        return {"api-key": self.config.api_key} if self.config.api_key else {}

    def _endpoint(self) -> str:
        return _deployment_url(
            self.config.host, self.config.model, self.operation, self.config.api_version
        )


class AzureOpenAIChat(_Deployment, OpenAIChat):
    """Chat completions of an Azure OpenAI deployment (``config.model`` is the deployment)."""

    operation = "chat/completions"


class AzureOpenAIEmbedding(_Deployment, OpenAIEmbedding):
    """Embeddings of an Azure OpenAI deployment (``config.model`` is the deployment)."""

    operation = "embeddings"
