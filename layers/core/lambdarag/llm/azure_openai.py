"""Azure OpenAI: the OpenAI protocol at per-deployment URLs with an ``api-key`` header.

``host`` is the resource endpoint (``https://<resource>.openai.azure.com``) and ``model``
the deployment name; requests go to
``{host}/openai/deployments/{model}/chat/completions?api-version=...``.
"""

from __future__ import annotations

from urllib.parse import quote

from lambdarag.llm.openai import OpenAIChat, OpenAIEmbedding

DEFAULT_API_VERSION = "2024-10-21"


def _deployment_url(host: str, deployment: str, operation: str, api_version: str | None) -> str:
    version = quote(api_version or DEFAULT_API_VERSION, safe="")
    return (
        f"{host.rstrip('/')}/openai/deployments/{quote(deployment, safe='')}/{operation}"
        f"?api-version={version}"
    )


def _api_key_header(api_key: str | None) -> dict[str, str]:
    return {"api-key": api_key} if api_key else {}


class AzureOpenAIChat(OpenAIChat):
    """Chat completions of an Azure OpenAI deployment (``config.model`` is the deployment)."""

    def _auth_headers(self) -> dict[str, str]:
        return _api_key_header(self.config.api_key)

    def _endpoint(self) -> str:
        return _deployment_url(
            self.config.host, self.config.model, "chat/completions", self.config.api_version
        )


class AzureOpenAIEmbedding(OpenAIEmbedding):
    """Embeddings of an Azure OpenAI deployment (``config.model`` is the deployment)."""

    def _auth_headers(self) -> dict[str, str]:
        return _api_key_header(self.config.api_key)

    def _endpoint(self) -> str:
        return _deployment_url(
            self.config.host, self.config.model, "embeddings", self.config.api_version
        )
