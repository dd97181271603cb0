"""Settings: LightRAG's variable names and defaults, from CLI > environment > ``.env``.

This is the only module that reads the process environment. Settings are built
once, at the composition root (CLI, Lambda handler, test), and passed down.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lambdarag.llm.base import EmbeddingConfig, LLMConfig

Binding = Literal["openai", "azure_openai", "ollama", "lollms", "bedrock", "aws_bedrock"]

DEFAULT_HOSTS: dict[str, str] = {
    "ollama": "http://localhost:11434",
    "openai": "https://api.openai.com/v1",
    "lollms": "http://localhost:9600",
    "azure_openai": "",
    "bedrock": "",
}
DEFAULT_EMBEDDING: dict[str, tuple[str, int]] = {
    "ollama": ("bge-m3:latest", 1024),
    "openai": ("text-embedding-3-small", 1536),
    "azure_openai": ("text-embedding-3-small", 1536),
    "lollms": ("lollms_embedding", 1024),
    "bedrock": ("amazon.titan-embed-text-v2:0", 1024),
}
# LightRAG's default storage class names all mean "the embedded store" here.
EMBEDDED_STORAGE_NAMES = {
    "embedded",
    "JsonKVStorage",
    "JsonDocStatusStorage",
    "NanoVectorDBStorage",
    "NetworkXStorage",
}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting the server reads, typed, with LightRAG's names as environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        frozen=True,
    )

    # --- server and paths
    host: str = "0.0.0.0"
    port: int = Field(9621, ge=1, le=65535)
    working_dir: Path = Path("./rag_storage")
    input_dir: Path = Path("./inputs")
    workspace: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    max_graph_nodes: int = Field(1000, ge=1)
    max_upload_size: int | None = Field(104857600, ge=0)
    max_request_body_bytes: int = Field(1048576, ge=0)

    # --- LLM
    llm_binding: Binding = "ollama"
    llm_model: str = "mistral-nemo:latest"
    llm_binding_host: str | None = None
    llm_binding_api_key: str | None = None
    llm_timeout: float = Field(240, gt=0)
    max_async: int = Field(4, ge=1, validation_alias=_env("MAX_ASYNC_LLM", "MAX_ASYNC"))
    azure_openai_api_version: str = "2024-08-01-preview"
    azure_openai_endpoint: str | None = None
    aws_region: str | None = Field(None, validation_alias=_env("AWS_REGION", "AWS_DEFAULT_REGION"))
    llm_max_retries: int = Field(5, ge=0)

    # --- embedding
    embedding_binding: Binding = "ollama"
    embedding_model: str | None = None
    embedding_dim: int | None = Field(None, ge=1)
    embedding_binding_host: str | None = None
    embedding_binding_api_key: str | None = None
    embedding_send_dim: bool = False
    embedding_timeout: float = Field(30, gt=0)
    embedding_func_max_async: int = Field(8, ge=1)
    embedding_batch_num: int = Field(10, ge=1)

    # --- storage (LightRAG names; the embedded store is the default)
    lightrag_kv_storage: str = "JsonKVStorage"
    lightrag_vector_storage: str = "NanoVectorDBStorage"
    lightrag_graph_storage: str = "NetworkXStorage"
    lightrag_doc_status_storage: str = "JsonDocStatusStorage"

    # --- query
    top_k: int = Field(40, ge=1, le=1000)
    chunk_top_k: int = Field(20, ge=1, le=1000)
    max_entity_tokens: int = Field(6000, ge=1)
    max_relation_tokens: int = Field(8000, ge=1)
    max_total_tokens: int = Field(30000, ge=1)
    cosine_threshold: float = Field(0.2, ge=-1, le=1)
    related_chunk_number: int = Field(5, ge=1)
    kg_chunk_pick_method: Literal["VECTOR", "WEIGHT"] = "VECTOR"
    enable_llm_cache: bool = True
    user_prompt_prefix: str = ""
    rerank_by_default: bool = True

    # --- indexing
    chunk_size: int = Field(1200, ge=16)
    chunk_overlap_size: int = Field(100, ge=0)
    summary_language: str = "English"
    enable_llm_cache_for_extract: bool = True
    max_gleaning: int = Field(1, ge=0)
    max_extraction_records: int = Field(100, ge=1)
    max_extraction_entities: int = Field(40, ge=1)
    force_llm_summary_on_merge: int = Field(8, ge=2)
    summary_max_tokens: int = Field(1200, ge=1)
    summary_length_recommended: int = Field(600, ge=1)
    summary_context_size: int = Field(12000, ge=1)
    max_extract_input_tokens: int = Field(20480, ge=1)
    max_source_ids_per_entity: int = Field(200, ge=1)
    max_source_ids_per_relation: int = Field(200, ge=1)
    source_ids_limit_method: Literal["KEEP", "FIFO"] = "KEEP"
    max_file_paths: int = Field(75, ge=1)
    max_parallel_insert: int = Field(3, ge=1)
    extract_batch_size: int = Field(8, ge=1)  # chunks per extract step (one Map item on AWS)

    # --- Ollama emulation
    ollama_emulating_model_name: str = "lightrag"
    ollama_emulating_model_tag: str = "latest"

    # --- UI
    webui_title: str | None = None
    webui_description: str | None = None

    @field_validator("workspace")
    @classmethod
    def _sanitise_workspace(cls, value: str) -> str:
        from lambdarag.utils import sanitise_workspace

        return sanitise_workspace(value)

    @field_validator(
        "lightrag_kv_storage",
        "lightrag_vector_storage",
        "lightrag_graph_storage",
        "lightrag_doc_status_storage",
    )
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value not in EMBEDDED_STORAGE_NAMES:
            allowed = ", ".join(sorted(EMBEDDED_STORAGE_NAMES))
            raise ValueError(f"unknown storage {value!r}; this build supports: {allowed}")
        return value

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap_size >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP_SIZE must be smaller than CHUNK_SIZE")
        return self

    @cached_property
    def llm_provider_options(self) -> dict[str, Any]:
        prefix = {"openai": "OPENAI_LLM_", "azure_openai": "OPENAI_LLM_", "ollama": "OLLAMA_LLM_"}
        return _prefixed_options(prefix.get(self.llm_binding, "BEDROCK_LLM_"))

    def llm_config(self) -> LLMConfig:
        binding = "bedrock" if self.llm_binding == "aws_bedrock" else self.llm_binding
        host = self.llm_binding_host or (
            self.azure_openai_endpoint if binding == "azure_openai" else DEFAULT_HOSTS[binding]
        )
        return LLMConfig(
            binding=binding,
            model=self.llm_model,
            host=(host or "").rstrip("/"),
            api_key=self.llm_binding_api_key,
            timeout=self.llm_timeout,
            max_async=self.max_async,
            api_version=self.azure_openai_api_version,
            region=self.aws_region,
            options=self.llm_provider_options,
            max_retries=self.llm_max_retries,
        )

    def embedding_config(self) -> EmbeddingConfig:
        binding = "bedrock" if self.embedding_binding == "aws_bedrock" else self.embedding_binding
        model, dim = DEFAULT_EMBEDDING[binding]
        host = self.embedding_binding_host or (
            self.azure_openai_endpoint if binding == "azure_openai" else DEFAULT_HOSTS[binding]
        )
        return EmbeddingConfig(
            binding=binding,
            model=self.embedding_model or model,
            host=(host or "").rstrip("/"),
            dim=self.embedding_dim or dim,
            api_key=self.embedding_binding_api_key,
            timeout=self.embedding_timeout,
            max_async=self.embedding_func_max_async,
            batch_num=self.embedding_batch_num,
            send_dim=self.embedding_send_dim,
            api_version=self.azure_openai_api_version,
            region=self.aws_region,
            max_retries=self.llm_max_retries,
        )

    def workspace_dir(self, workspace: str) -> Path:
        return self.working_dir / workspace if workspace else self.working_dir


def _prefixed_options(prefix: str) -> dict[str, Any]:
    """Provider options such as ``OLLAMA_LLM_NUM_CTX=8192`` -> ``{"num_ctx": 8192}``."""
    merged = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    options: dict[str, Any] = {}
    for key, raw in merged.items():
        if key.upper().startswith(prefix):
            options[key[len(prefix) :].lower()] = _scalar(raw)
    return options


def _scalar(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    return raw


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; ``overrides`` (from the CLI) win over the environment and ``.env``.

    Raises SettingsError with one line naming the variable and what is allowed.
    """
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(part) for part in err.get("loc", ())]
    name = loc[0].upper() if loc else "configuration"
    value = err.get("input")
    shown = f" (got {value!r})" if loc and not isinstance(value, dict) else ""
    message = err.get("msg", "invalid value").removeprefix("Value error, ")
    return f"{name}: {message}{shown}"
