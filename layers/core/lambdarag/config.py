"""Settings: LightRAG's variable names and defaults, from CLI > environment > ``.env``.

This is the only module that reads the process environment. Settings are built
once, at the composition root (CLI, Lambda handler, test), and passed down.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from lambdarag.errors import ConfigurationError
from lambdarag.llm import options as binding_options
from lambdarag.llm.base import EmbeddingConfig, LLMConfig, RerankConfig

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
# LightRAG's default storage class names all mean "the embedded store" here, for any kind.
EMBEDDED_STORAGE_NAMES = {
    "embedded",
    "JsonKVStorage",
    "JsonDocStatusStorage",
    "NanoVectorDBStorage",
    "NetworkXStorage",
}
# Accepted LIGHTRAG_*_STORAGE values beyond the embedded ones -> the backend that serves them.
# LightRAG's own class names come first (OpenSearchVectorDBStorage in lightrag/kg/opensearch_impl,
# GremlinStorage in the older lightrag/kg/gremlin_impl); our short aliases follow.
AWS_STORAGE_NAMES: dict[str, dict[str, str]] = {
    "lightrag_kv_storage": {"DynamoDBKVStorage": "dynamodb", "dynamodb": "dynamodb"},
    "lightrag_doc_status_storage": {"DynamoDBDocStatusStorage": "dynamodb", "dynamodb": "dynamodb"},
    "lightrag_vector_storage": {"OpenSearchVectorDBStorage": "opensearch",
                                "OpenSearchVectorStorage": "opensearch", "opensearch": "opensearch",
                                "S3VectorsStorage": "s3vectors", "s3vectors": "s3vectors"},
    "lightrag_graph_storage": {"NeptuneGraphStorage": "neptune", "GremlinStorage": "neptune",
                               "neptune": "neptune", "DynamoDBGraphStorage": "dynamodb",
                               "dynamodb": "dynamodb"},
}
# The AWS backends' connection settings: this slice of the environment (and .env), taken
# once here and parsed by the adapter groups below (ADAPTER_SETTINGS).
STORAGE_ENV_PREFIXES = ("OPENSEARCH_", "LAMBDARAG_OPENSEARCH_", "GREMLIN_", "NEPTUNE_",
                        "DYNAMODB_", "LAMBDARAG_DYNAMODB_", "LAMBDARAG_S3_", "AWS_REGION",
                        "LAMBDARAG_S3VECTORS_", "S3VECTORS_",
                        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")


# LightRAG's public fallback JWT secret, and its documentation's placeholders: never real secrets.
DEFAULT_TOKEN_SECRET = "lightrag-jwt-default-secret-key!"
INSECURE_SECRETS = {DEFAULT_TOKEN_SECRET, "Your-Key-For-LightRAG-API-Server",
                    "your-secure-api-key-here", "change-me", "changeme", "secret"}
MIN_TOKEN_SECRET_BYTES = 32  # HS256 wants a key as long as its hash (RFC 7518 section 3.2)
BCRYPT_PREFIX = "{bcrypt}"
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
# Never echoed in a start-up error: they hold passwords, keys or secrets.
SECRET_SETTINGS = {"auth_accounts", "token_secret", "lightrag_api_key", "llm_binding_api_key",
                   "embedding_binding_api_key", "rerank_binding_api_key"}


class AdapterSettings(BaseSettings):
    """The connection settings of one storage adapter, typed, under the adapter's own names.

    Read (environment over ``.env``, blank = unset) only when that adapter is selected, so
    a bad value stops start-up with one line naming the variable. This is the one parser
    of these names: :meth:`adapter` turns the validated values into the adapter's own
    settings object, which ``Settings.adapter_settings`` hands to the storage selection.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False, env_ignore_empty=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @classmethod
    def from_mapping(cls, environ: Mapping[str, str]) -> Self:
        """The group read from ``environ`` alone (variable names in any case), not the process."""
        return cls.model_validate({key.lower(): value for key, value in environ.items()})

    def adapter(self) -> Any:
        """The adapter's settings object built from these values."""
        raise NotImplementedError


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# OpenSearchSettings' fields taken as they are from OpenSearchEnv's.
_OPENSEARCH_FIELDS = {
    "verify_certs": "opensearch_verify_certs", "timeout": "opensearch_timeout",
    "max_retries": "opensearch_max_retries", "engine": "lambdarag_opensearch_engine",
    "space_type": "lambdarag_opensearch_space", "m": "opensearch_knn_m",
    "ef_construction": "opensearch_knn_ef_construction",
    "ef_search": "opensearch_knn_ef_search", "shards": "lambdarag_opensearch_shards",
    "replicas": "lambdarag_opensearch_replicas", "refresh": "lambdarag_opensearch_refresh",
    "bulk_docs": "lambdarag_opensearch_bulk_docs",
    "bulk_bytes": "lambdarag_opensearch_bulk_bytes",
    "bulk_concurrency": "lambdarag_opensearch_bulk_concurrency",
}


class OpenSearchEnv(AdapterSettings):
    """``OPENSEARCH_*`` (LightRAG's names) and ``LAMBDARAG_OPENSEARCH_*``."""

    opensearch_hosts: str = ""
    opensearch_user: str = ""
    opensearch_password: str = Field("", repr=False)
    opensearch_use_ssl: bool | None = None
    opensearch_verify_certs: bool = True
    opensearch_timeout: float = Field(30.0, gt=0)
    opensearch_max_retries: int = Field(3, ge=0)
    opensearch_knn_m: int = Field(16, ge=2, le=100)
    opensearch_knn_ef_construction: int = Field(200, ge=1)
    opensearch_knn_ef_search: int = Field(100, ge=1)
    lambdarag_opensearch_engine: Literal["lucene", "faiss", "nmslib"] = "lucene"
    lambdarag_opensearch_space: Literal["innerproduct", "cosinesimil"] = "innerproduct"
    lambdarag_opensearch_index_prefix: str = "lambdarag"
    lambdarag_opensearch_shards: int = Field(1, ge=1)
    lambdarag_opensearch_replicas: int = Field(0, ge=0)
    lambdarag_opensearch_refresh: Literal["true", "wait_for", "false"] = "true"
    lambdarag_opensearch_bulk_docs: int = Field(500, ge=1)
    lambdarag_opensearch_bulk_bytes: int = Field(5_000_000, ge=1)
    lambdarag_opensearch_bulk_concurrency: int = Field(2, ge=1)
    lambdarag_opensearch_aws_service: Literal["", "es", "aoss"] = ""
    lambdarag_opensearch_aws_region: str = ""
    aws_region: str = ""

    _lowercase = field_validator(
        "lambdarag_opensearch_engine", "lambdarag_opensearch_space",
        "lambdarag_opensearch_refresh", "lambdarag_opensearch_aws_service", mode="before",
    )(_lower)

    @model_validator(mode="after")
    def _region_for_sigv4(self) -> OpenSearchEnv:
        if self.lambdarag_opensearch_aws_service and not self._sigv4_region:
            raise ValueError("SigV4 needs a region: set LAMBDARAG_OPENSEARCH_AWS_REGION or AWS_REGION")
        return self

    @property
    def _sigv4_region(self) -> str:
        return self.lambdarag_opensearch_aws_region or self.aws_region

    def adapter(self) -> Any:
        from lambdarag.storage.opensearch.client import OpenSearchSettings

        hosts = tuple(h.strip() for h in self.opensearch_hosts.split(",") if h.strip())
        service = self.lambdarag_opensearch_aws_service
        use_ssl = self.opensearch_use_ssl
        return OpenSearchSettings(
            **({"hosts": hosts} if hosts else {}),
            user=self.opensearch_user.strip(),
            password=self.opensearch_password,
            use_ssl=any(h.startswith("https://") for h in hosts) if use_ssl is None else use_ssl,
            **{field: getattr(self, name) for field, name in _OPENSEARCH_FIELDS.items()},
            index_prefix=self.lambdarag_opensearch_index_prefix.strip(),
            aws_service=service,
            aws_region=self._sigv4_region.strip() if service else "",
        )


class NeptuneEnv(AdapterSettings):
    """LightRAG's ``GREMLIN_*`` names, ``GREMLIN_URL`` and ``NEPTUNE_IAM_AUTH``."""

    gremlin_url: str = ""
    gremlin_host: str = "127.0.0.1"
    gremlin_port: int = Field(8182, ge=1, le=65535)
    gremlin_user: str = ""
    gremlin_password: str = Field("", repr=False)
    gremlin_traverse_source: str = Field("g", min_length=1)
    neptune_iam_auth: bool = False
    aws_region: str = ""
    aws_default_region: str = ""

    @field_validator("gremlin_url")
    @classmethod
    def _websocket(cls, value: str) -> str:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a ws:// or wss:// URL")
        return value

    @model_validator(mode="after")
    def _region_for_iam(self) -> NeptuneEnv:
        if self.neptune_iam_auth and not (self.aws_region or self.aws_default_region):
            raise ValueError("NEPTUNE_IAM_AUTH needs AWS_REGION")
        return self

    def adapter(self) -> Any:
        from lambdarag.storage.neptune.connection import NeptuneConfig

        url = self.gremlin_url or f"ws://{self.gremlin_host}:{self.gremlin_port}/gremlin"
        return NeptuneConfig(url=url, traversal_source=self.gremlin_traverse_source,
                             username=self.gremlin_user, password=self.gremlin_password,
                             iam_auth=self.neptune_iam_auth,
                             region=self.aws_region or self.aws_default_region)


class DynamoDBEnv(AdapterSettings):
    """``LAMBDARAG_DYNAMODB_*`` and ``DYNAMODB_ENDPOINT_URL``."""

    lambdarag_dynamodb_table: str = Field("lambdarag", min_length=3, max_length=255)
    lambdarag_dynamodb_create_table: bool = True
    lambdarag_dynamodb_max_attempts: int = Field(10, ge=1)
    lambdarag_dynamodb_batch_attempts: int = Field(8, ge=1)
    lambdarag_dynamodb_inline_limit: int = Field(350_000, ge=1, le=390_000)
    lambdarag_dynamodb_blob_bucket: str = ""
    lambdarag_dynamodb_blob_prefix: str = "dynamodb-blobs/"
    dynamodb_endpoint_url: str = ""
    aws_region: str = ""
    aws_default_region: str = ""

    def adapter(self) -> Any:
        from lambdarag.storage.dynamodb.settings import DEFAULT_REGION, DynamoDBSettings

        return DynamoDBSettings(
            table=self.lambdarag_dynamodb_table.strip(),
            create_table=self.lambdarag_dynamodb_create_table,
            region=(self.aws_region or self.aws_default_region or DEFAULT_REGION).strip(),
            endpoint_url=self.dynamodb_endpoint_url.strip(),
            max_attempts=self.lambdarag_dynamodb_max_attempts,
            batch_attempts=self.lambdarag_dynamodb_batch_attempts,
            inline_limit=self.lambdarag_dynamodb_inline_limit,
            blob_bucket=self.lambdarag_dynamodb_blob_bucket.strip(),
            blob_prefix=self.lambdarag_dynamodb_blob_prefix.strip(),
        )


class DynamoDBGraphEnv(DynamoDBEnv):
    """The DynamoDB graph table: ``LAMBDARAG_DYNAMODB_GRAPH_TABLE`` (default: the state
    table's name plus ``-graph``); region, endpoint, retries and table creation as the
    state table's."""

    lambdarag_dynamodb_graph_table: str | None = Field(None, min_length=3, max_length=255)

    def adapter(self) -> Any:
        from dataclasses import replace

        state = super().adapter()
        return replace(state, table=(self.lambdarag_dynamodb_graph_table or f"{state.table}-graph")
                       .strip())


class S3VectorsEnv(AdapterSettings):
    """``LAMBDARAG_S3VECTORS_*``, ``S3VECTORS_ENDPOINT_URL`` and the AWS region."""

    lambdarag_s3vectors_bucket: str = "lambdarag-vectors"
    lambdarag_s3vectors_create_bucket: bool = True
    lambdarag_s3vectors_index_prefix: str = "lr"
    lambdarag_s3vectors_max_attempts: int = Field(10, ge=1)
    lambdarag_s3vectors_concurrency: int = Field(4, ge=1)
    s3vectors_endpoint_url: str = ""
    aws_region: str = ""
    aws_default_region: str = ""

    @field_validator("lambdarag_s3vectors_bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        from lambdarag.storage.s3vectors.settings import check_bucket

        return check_bucket(value.strip())

    @field_validator("lambdarag_s3vectors_index_prefix")
    @classmethod
    def _index_prefix(cls, value: str) -> str:
        from lambdarag.storage.s3vectors.settings import check_index_prefix

        return check_index_prefix(value.strip())

    def adapter(self) -> Any:
        from lambdarag.storage.s3vectors.settings import DEFAULT_REGION, S3VectorsSettings

        return S3VectorsSettings(
            bucket=self.lambdarag_s3vectors_bucket,
            create_bucket=self.lambdarag_s3vectors_create_bucket,
            index_prefix=self.lambdarag_s3vectors_index_prefix,
            region=(self.aws_region or self.aws_default_region or DEFAULT_REGION).strip(),
            endpoint_url=self.s3vectors_endpoint_url.strip(),
            max_attempts=self.lambdarag_s3vectors_max_attempts,
            concurrency=self.lambdarag_s3vectors_concurrency,
        )


# The selected backend -> the typed settings its adapter needs (the DynamoDB graph table
# is its own group: see Settings.adapter_settings).
ADAPTER_SETTINGS: dict[str, type[AdapterSettings]] = {
    "opensearch": OpenSearchEnv, "neptune": NeptuneEnv, "dynamodb": DynamoDBEnv,
    "s3vectors": S3VectorsEnv, "dynamodb_graph": DynamoDBGraphEnv,
}


# A chunking strategy's parameter -> the setting that gives its server-wide default.
CHUNKER_FIELDS: dict[str, dict[str, str]] = {
    "fixed_token": {"chunk_token_size": "chunk_f_size",
                    "chunk_overlap_token_size": "chunk_f_overlap_size",
                    "split_by_character": "chunk_f_split_by_character",
                    "split_by_character_only": "chunk_f_split_by_character_only"},
    "recursive_character": {"chunk_token_size": "chunk_r_size",
                            "chunk_overlap_token_size": "chunk_r_overlap_size",
                            "separators": "chunk_r_separators"},
    "semantic_vector": {"chunk_token_size": "chunk_v_size",
                        "breakpoint_threshold_type": "chunk_v_breakpoint_threshold_type",
                        "breakpoint_threshold_amount": "chunk_v_breakpoint_threshold_amount",
                        "buffer_size": "chunk_v_buffer_size",
                        "sentence_split_regex": "chunk_v_sentence_split_regex"},
    "paragraph_semantic": {"chunk_token_size": "chunk_p_size",
                           "chunk_overlap_token_size": "chunk_p_overlap_size",
                           "drop_references": "chunk_p_drop_references"},
}


class SettingsError(ConfigurationError):
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
    max_texts_per_request: int = Field(0, ge=0)  # /documents/texts: 0 = no limit
    max_request_body_bytes: int = Field(1048576, ge=0)
    # LightRAG's lightrag-server process options (`lambdarag serve` reads them; cli/serve.py).
    lightrag_api_prefix: str = ""  # every route and the web UI under this path as well
    ssl: bool = False
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    workers: int = Field(1, ge=1)
    timeout: int | None = Field(300, ge=1)  # LightRAG's gunicorn worker timeout; "None": none
    verbose: bool = False  # also log every provider request (httpx)
    lightrag_default_ui: Literal["webui", "workspace"] = "webui"

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
    # Texts per embedding request. LightRAG sends 10; the queue in front of the binding
    # (llm/queue.py) fills requests from every concurrent caller, so more fit.
    embedding_batch_num: int = Field(64, ge=1)
    lambdarag_embedding_batch_wait_ms: float = Field(10, ge=0, le=1000)

    # --- rerank (LightRAG names and defaults; "null": no reranker)
    rerank_binding: Literal["null", "cohere", "jina", "aliyun"] = "null"
    rerank_model: str | None = None
    rerank_binding_host: str | None = None
    rerank_binding_api_key: str | None = Field(None, repr=False)
    rerank_timeout: float = Field(30, gt=0)
    max_async_rerank: int | None = Field(None, ge=1)  # unset: MAX_ASYNC
    min_rerank_score: float = 0.0
    rerank_enable_chunking: bool = False
    rerank_max_tokens_per_doc: int = Field(4096, ge=1)

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
    user_prompt_prefix_file: str = ""  # PROMPT_DIR/user_prompt/<name>; wins over the inline one
    prompt_dir: Path = Path("./prompts")
    entity_type_prompt_file: str = ""  # PROMPT_DIR/entity_type/<name>.yml (llm/prompt_files.py)
    rerank_by_default: bool = True

    # --- indexing
    chunk_size: int = Field(1200, ge=16)
    chunk_overlap_size: int = Field(100, ge=0)
    # per chunking strategy (LightRAG 1.5's names); unset sizes and overlaps take the two above
    chunk_f_size: int | None = Field(None, ge=1)
    chunk_f_overlap_size: int | None = Field(None, ge=0)
    chunk_f_split_by_character: str | None = None
    chunk_f_split_by_character_only: bool = False
    chunk_r_size: int | None = Field(None, ge=1)
    chunk_r_overlap_size: int | None = Field(None, ge=0)
    chunk_r_separators: list[str] | None = None  # a JSON array, e.g. ["\n\n", "\n", " ", ""]
    chunk_v_size: int | None = Field(None, ge=1)
    chunk_v_breakpoint_threshold_type: Literal[
        "percentile", "standard_deviation", "interquartile", "gradient"] = "percentile"
    chunk_v_breakpoint_threshold_amount: float | None = Field(None, gt=0, allow_inf_nan=False)
    chunk_v_buffer_size: int = Field(1, ge=1)
    chunk_v_sentence_split_regex: str | None = None
    chunk_p_size: int = Field(2000, ge=1)
    chunk_p_overlap_size: int | None = Field(None, ge=0)
    chunk_p_drop_references: bool | None = None
    chunk_p_references_tail_n: int = Field(0, ge=0)
    chunk_p_references_headings: str = "References|Bibliography|参考文献"
    summary_language: str = "English"
    enable_llm_cache_for_extract: bool = True
    max_gleaning: int = Field(1, ge=0)
    max_extraction_records: int = Field(100, ge=1)
    max_extraction_entities: int = Field(40, ge=1)
    entity_extraction_use_json: bool = False
    # LightRAG 1.4's list ('["Person", "Place"]' or "Person,Place"); 1.5 wants a profile file
    entity_types: str = ""
    force_llm_summary_on_merge: int = Field(8, ge=2)
    summary_max_tokens: int = Field(1200, ge=1)
    summary_length_recommended: int = Field(600, ge=1)
    summary_context_size: int = Field(12000, ge=1)
    # Keys summarised per LLM call in a merge round (indexing/summarize.py); 1 = LightRAG's way
    lambdarag_summary_batch_size: int = Field(8, ge=1, le=64)
    max_extract_input_tokens: int = Field(20480, ge=1)
    max_source_ids_per_entity: int = Field(200, ge=1)
    max_source_ids_per_relation: int = Field(200, ge=1)
    source_ids_limit_method: Literal["KEEP", "FIFO"] = "KEEP"
    max_file_paths: int = Field(75, ge=1)
    max_parallel_insert: int = Field(3, ge=1)
    extract_batch_size: int = Field(8, ge=1)  # chunks per extract step (one Map item on AWS)
    # Merge/edit locks shared by every process (leases in the KV store): "auto" turns them on
    # when the KV store is not the embedded one, i.e. whenever several processes may merge.
    lambdarag_shared_locks: Literal["auto", "on", "off"] = "auto"
    lambdarag_lock_ttl: float = Field(60.0, ge=5)  # seconds a lease lasts without renewal
    lambdarag_lock_wait: float = Field(300.0, gt=0)  # seconds to wait for busy keys
    # Serverless runtime: documents are indexed by this Step Functions state machine (one
    # execution per document) instead of in-process, and the pipeline status lives in the store.
    lambdarag_state_machine_arn: str = ""
    # Where the /documents/pipeline_status record lives: "shared" keeps it in the KV store for
    # every process (the serverless runtime: API instances and step Lambdas, which cannot be
    # given the state machine's ARN); "auto" = shared when a state machine ARN is set.
    lambdarag_pipeline_status: Literal["auto", "local", "shared"] = "auto"
    # The S3 drop folder: API uploads are written to <prefix>[<workspace>/]<name> in this
    # bucket, and objects created or deleted there are indexed or deleted (serverless runtime).
    lambdarag_input_bucket: str = ""
    lambdarag_input_prefix: str = "input/"
    # Serverless: DELETE /documents/delete_document queues the job to this function (the
    # trigger) instead of running it inside the API's 30-second request.
    lambdarag_delete_function: str = ""
    # Open WebUI's /api/v1/knowledge/{id}/file/add answers when the file is indexed, or after
    # this many seconds with it still indexing (the stack sets 20: API Gateway allows 29).
    lambdarag_file_add_wait: float = Field(300.0, ge=0)

    # --- Ollama emulation
    ollama_emulating_model_name: str = "lightrag"
    ollama_emulating_model_tag: str = "latest"

    # --- UI
    webui_title: str | None = None
    webui_description: str | None = None

    # Binding options given on the command line (``--ollama-llm-num_ctx 8192``), by family
    # (llm/options.py); each wins over its variable (``OLLAMA_LLM_NUM_CTX``).
    cli_binding_options: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)

    # --- authentication (contract section 2; docs/SECURITY.md). Fields that a validator
    # checks against AUTH_ACCOUNTS come after it.
    lightrag_api_key: str | None = Field(None, repr=False)
    whitelist_paths: str = "/health,/api/*"
    auth_accounts: str = Field("", repr=False)
    auth_account_workspaces: str = ""
    token_secret: str | None = Field(None, validate_default=True, repr=False)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    token_expire_hours: float = Field(48, gt=0)
    guest_token_expire_hours: float = Field(24, gt=0)
    token_auto_renew: bool = True
    token_renew_threshold: float = Field(0.5, ge=0, le=1)
    login_max_failed_attempts: int = Field(5, ge=0)
    login_lockout_window_seconds: int = Field(300, ge=1)
    cors_origins: str = "*"

    @field_validator("lightrag_api_prefix")
    @classmethod
    def _normal_prefix(cls, value: str) -> str:
        """``site01``, ``/site01/`` -> ``/site01``; empty or ``/``: no prefix."""
        value = value.strip().strip("/")
        if any(c.isspace() or c in "?#%\\" for c in value) or "//" in value:
            raise ValueError("must be a path such as /site01 (no spaces, ?, #, % or //)")
        return f"/{value}" if value else ""

    @field_validator("timeout", mode="before")
    @classmethod
    def _none_timeout(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("none", "") else value

    @field_validator("workspace")
    @classmethod
    def _sanitise_workspace(cls, value: str) -> str:
        from lambdarag.utils import sanitise_workspace

        return sanitise_workspace(value)

    @field_validator("lightrag_api_key")
    @classmethod
    def _usable_api_key(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # unset or empty: no API key
        if value in INSECURE_SECRETS:
            raise ValueError("is a documentation placeholder; set a random key "
                             "(for example: openssl rand -hex 32)")
        return value

    @field_validator("auth_accounts")
    @classmethod
    def _parse_accounts(cls, value: str) -> str:
        parse_accounts(value)
        return value

    @field_validator("auth_account_workspaces")
    @classmethod
    def _parse_account_workspaces(cls, value: str, info: ValidationInfo) -> str:
        if "auth_accounts" in info.data:  # else AUTH_ACCOUNTS itself is reported
            parse_account_workspaces(value, parse_accounts(info.data["auth_accounts"]))
        return value

    @field_validator("token_secret")
    @classmethod
    def _strong_secret_with_accounts(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value or None
        if not parse_accounts(info.data.get("auth_accounts", "")):
            return value
        if value is None:
            raise ValueError("must be set when AUTH_ACCOUNTS is set: use a random string of at "
                             "least 32 characters (for example: openssl rand -hex 32)")
        if value in INSECURE_SECRETS:
            raise ValueError("is a public default or placeholder, so anyone could sign tokens; "
                             "set a random string (for example: openssl rand -hex 32)")
        if len(value.encode()) < MIN_TOKEN_SECRET_BYTES:
            raise ValueError(f"must be at least {MIN_TOKEN_SECRET_BYTES} bytes long when "
                             "AUTH_ACCOUNTS is set (for example: openssl rand -hex 32)")
        return value

    @field_validator(
        "lightrag_kv_storage",
        "lightrag_vector_storage",
        "lightrag_graph_storage",
        "lightrag_doc_status_storage",
    )
    @classmethod
    def _known_storage(cls, value: str, info: ValidationInfo) -> str:
        accepted = EMBEDDED_STORAGE_NAMES | set(AWS_STORAGE_NAMES[str(info.field_name)])
        if value not in accepted:
            allowed = ", ".join(sorted(accepted))
            raise ValueError(f"unknown storage {value!r}; accepted: {allowed}")
        return value

    @model_validator(mode="after")
    def _check_storage(self) -> Settings:
        from lambdarag.storage.select import check_selection

        check_selection(self.storage_backends)
        _ = self.adapter_settings  # a bad adapter value refuses start-up here
        return self

    @cached_property
    def entity_type_list(self) -> tuple[str, ...]:
        """ENTITY_TYPES as names (empty: the default types)."""
        raw = self.entity_types.strip()
        if raw.startswith("["):
            try:
                names = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"ENTITY_TYPES: is not a JSON list: {exc}") from None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("ENTITY_TYPES: must be a list of names")
        else:
            names = raw.split(",")
        return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))

    @cached_property
    def entity_type_profile(self) -> Any:
        """ENTITY_TYPE_PROMPT_FILE's ``EntityTypeProfile``, or None (the default types)."""
        if not self.entity_type_prompt_file:
            return None
        from lambdarag.llm.prompt_files import entity_type_profile

        return entity_type_profile(self.prompt_dir, self.entity_type_prompt_file,
                                   json_mode=self.entity_extraction_use_json)

    @cached_property
    def user_prompt(self) -> str:
        """The prefix of every query's user prompt: USER_PROMPT_PREFIX_FILE's text, else
        USER_PROMPT_PREFIX."""
        if not self.user_prompt_prefix_file:
            return self.user_prompt_prefix
        from lambdarag.llm.prompt_files import user_prompt_prefix

        return user_prompt_prefix(self.prompt_dir, self.user_prompt_prefix_file)

    @model_validator(mode="after")
    def _check_prompt_files(self) -> Settings:
        _ = self.entity_type_list, self.entity_type_profile, self.user_prompt  # refuse bad ones now
        return self

    @field_validator("chunk_v_sentence_split_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a regular expression: {exc}") from None
        return value or None

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if self.chunk_overlap_size >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP_SIZE must be smaller than CHUNK_SIZE")
        for letter in "FRP":
            size = getattr(self, f"chunk_{letter.lower()}_size") or self.chunk_size
            own = getattr(self, f"chunk_{letter.lower()}_overlap_size")
            overlap = self.chunk_overlap_size if own is None else own
            if overlap >= size:
                name = f"CHUNK_{letter}_OVERLAP_SIZE" if own is not None else "CHUNK_OVERLAP_SIZE"
                raise ValueError(f"{name} ({overlap}) must be smaller than CHUNK_{letter}_SIZE "
                                 f"({size})")
        amount = self.chunk_v_breakpoint_threshold_amount
        if (amount is not None and amount > 100
                and self.chunk_v_breakpoint_threshold_type in ("percentile", "gradient")):
            raise ValueError("CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT must be within (0, 100] "
                             "for percentile and gradient")
        return self

    def chunker_strategies(self) -> dict[str, dict[str, Any]]:
        """Each chunking strategy's parameters from ``CHUNK_<F|R|V|P>_*`` (those set)."""
        found: dict[str, dict[str, Any]] = {}
        for strategy, fields in CHUNKER_FIELDS.items():
            values = {param: getattr(self, name) for param, name in fields.items()}
            found[strategy] = {k: v for k, v in values.items()
                               if not (v is None or v is False or v == "")}  # 0 is a value
        return found


    @cached_property
    def llm_provider_options(self) -> dict[str, Any]:
        return self._family_options(binding_options.LLM_FAMILY.get(self.llm_binding, "bedrock_llm"))

    @cached_property
    def embedding_provider_options(self) -> dict[str, Any]:
        family = binding_options.EMBEDDING_FAMILY.get(self.embedding_binding)
        return self._family_options(family) if family else {}

    def _family_options(self, family: str) -> dict[str, Any]:
        """``<FAMILY>_<NAME>`` variables, then the command line's options of that family."""
        return {**_prefixed_options(family), **self.cli_binding_options.get(family, {})}

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
            options=self.embedding_provider_options,
        )

    def rerank_config(self) -> RerankConfig | None:
        """The reranker's settings, with LightRAG's defaults per binding; None for "null"."""
        if self.rerank_binding == "null":
            return None
        from lambdarag.llm.rerank import DEFAULTS

        model, host = DEFAULTS[self.rerank_binding]
        return RerankConfig(
            binding=self.rerank_binding,
            model=self.rerank_model or model,
            host=self.rerank_binding_host or host,
            api_key=self.rerank_binding_api_key,
            timeout=self.rerank_timeout,
            max_async=self.max_async_rerank or self.max_async,
            max_retries=self.llm_max_retries,
            enable_chunking=self.rerank_enable_chunking,
            max_tokens_per_doc=self.rerank_max_tokens_per_doc,
        )

    @cached_property
    def storage_backends(self) -> dict[str, str]:
        """``{"kv"|"doc_status"|"vectors"|"graph": "embedded"|"dynamodb"|"opensearch"|"neptune"}``."""
        kinds = {"kv": self.lightrag_kv_storage, "doc_status": self.lightrag_doc_status_storage,
                 "vectors": self.lightrag_vector_storage, "graph": self.lightrag_graph_storage}
        return {kind: AWS_STORAGE_NAMES[f"lightrag_{kind.replace('vectors', 'vector')}_storage"]
                .get(name, "embedded") for kind, name in kinds.items()}

    @property
    def serverless(self) -> bool:
        """The serverless runtime's settings are present (``lambdarag.runtime`` reads this)."""
        return bool(self.lambdarag_state_machine_arn or self.lambdarag_input_bucket
                    or self.lambdarag_delete_function)

    @property
    def shared_pipeline_status(self) -> bool:
        if self.lambdarag_pipeline_status == "auto":
            return bool(self.lambdarag_state_machine_arn)
        return self.lambdarag_pipeline_status == "shared"

    @property
    def shared_locks(self) -> bool:
        if self.lambdarag_shared_locks == "auto":
            return self.storage_backends["kv"] != "embedded"
        return self.lambdarag_shared_locks == "on"

    @cached_property
    def adapter_settings(self) -> dict[str, Any]:
        """``{backend: its adapter's settings}`` for the selected AWS backends; the DynamoDB
        graph table's settings are under ``"dynamodb_graph"``.

        Raises ValueError naming the variable when a value is refused.
        """
        groups = list(dict.fromkeys(self.storage_backends.values()))
        if self.storage_backends["graph"] == "dynamodb":
            groups.append("dynamodb_graph")
        found: dict[str, Any] = {}
        for backend in groups:
            if backend in ADAPTER_SETTINGS:
                try:
                    group = ADAPTER_SETTINGS[backend].from_mapping(self.storage_environ)
                except ValidationError as exc:
                    raise ValueError(_describe(exc).removeprefix("configuration: ")) from None
                found[backend] = group.adapter()
        return found

    @cached_property
    def storage_environ(self) -> dict[str, str]:
        """The AWS backends' connection settings (``STORAGE_ENV_PREFIXES``), environment over .env."""
        merged = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
        return {key.upper(): value for key, value in merged.items()
                if key.upper().startswith(STORAGE_ENV_PREFIXES)}

    @cached_property
    def accounts(self) -> dict[str, str]:
        """AUTH_ACCOUNTS as ``{username: password or "{bcrypt}<hash>"}``."""
        return parse_accounts(self.auth_accounts)

    @cached_property
    def account_workspaces(self) -> dict[str, tuple[str, ...]]:
        """AUTH_ACCOUNT_WORKSPACES as ``{username: allowed workspaces}``; unlisted: all."""
        return parse_account_workspaces(self.auth_account_workspaces, self.accounts)

    @property
    def jwt_secret(self) -> str:
        """TOKEN_SECRET, or LightRAG's public fallback (guest tokens only: no accounts)."""
        return self.token_secret or DEFAULT_TOKEN_SECRET

    @cached_property
    def whitelist(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.whitelist_paths.split(",") if p.strip())

    @cached_property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def workspace_dir(self, workspace: str) -> Path:
        return self.working_dir / workspace if workspace else self.working_dir


def parse_accounts(raw: str) -> dict[str, str]:
    """``"user:pass,user2:{bcrypt}$2b$12$..."`` -> ``{user: secret}``; ValueError if malformed.

    The error names the entry by its position and user, never by its password.
    """
    accounts: dict[str, str] = {}
    for position, entry in enumerate((e.strip() for e in raw.split(",")), start=1):
        if not entry:
            continue
        user, colon, secret = entry.partition(":")
        user = user.strip()
        where = f"entry {position}" + (f" ({user!r})" if colon and user else "")
        if not colon or not user or not secret:
            raise ValueError(f"{where} is malformed: write user:password or "
                             "user:{bcrypt}<hash>, entries separated by commas")
        if len(user) > 256:
            raise ValueError(f"entry {position}: the username is longer than 256 characters")
        if user in accounts:
            raise ValueError(f"{where}: the user is listed twice")
        if secret.startswith(BCRYPT_PREFIX) and not _BCRYPT_HASH.fullmatch(
                secret[len(BCRYPT_PREFIX):]):
            raise ValueError(f"{where}: the {{bcrypt}} hash is not a bcrypt hash ($2b$12$ "
                             "and 53 characters; make one with python -c \"import bcrypt; "
                             "print(bcrypt.hashpw(b'pw', bcrypt.gensalt()).decode())\")")
        accounts[user] = secret
    return accounts


def parse_account_workspaces(raw: str, accounts: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """``"alice:finance|hr,bob:*"`` -> ``{"alice": ("finance", "hr")}`` (``*``: no limit).

    Every user must exist in AUTH_ACCOUNTS and every name must be a valid workspace name,
    so a typo stops start-up instead of silently granting every workspace.
    """
    from lambdarag.utils import InvalidWorkspaceName, check_workspace_name

    limits: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        user, colon, names = (part.strip() for part in entry.partition(":"))
        if not colon or not user or not names:
            raise ValueError(f"entry {entry!r} is malformed: write user:workspace|workspace "
                             "or user:*, entries separated by commas")
        if user not in accounts:
            raise ValueError(f"user {user!r} is not in AUTH_ACCOUNTS")
        if user in seen:
            raise ValueError(f"user {user!r} is listed twice")
        seen.add(user)
        listed = [n.strip() for n in names.split("|")]
        if listed == ["*"]:
            continue
        try:
            limits[user] = tuple(dict.fromkeys(check_workspace_name(n) for n in listed))
        except InvalidWorkspaceName as exc:
            raise ValueError(f"user {user!r}: {exc}") from None
    return limits


def _prefixed_options(family: str) -> dict[str, Any]:
    """Provider options such as ``OLLAMA_LLM_NUM_CTX=8192`` -> ``{"num_ctx": 8192}``.

    Raises SettingsError naming the variable when a value does not have its option's type.
    """
    prefix = f"{family.upper()}_"
    merged = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **os.environ}
    options: dict[str, Any] = {}
    for key, raw in merged.items():
        if key.upper().startswith(prefix):
            name = key[len(prefix) :].lower()
            try:
                options[name] = binding_options.parse(family, name, raw)
            except binding_options.OptionError as exc:
                raise SettingsError(f"{key.upper()}: {exc} (got {raw!r})") from None
    return options


def load_settings(**overrides: Any) -> Settings:
    """Build Settings; ``overrides`` (from the CLI) win over the environment and ``.env``.

    Raises SettingsError with one line naming the variable and what is allowed.
    """
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    # Typed now, so that a bad OLLAMA_LLM_* value stops start-up rather than the first call.
    _ = settings.llm_provider_options, settings.embedding_provider_options
    return settings


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(part) for part in err.get("loc", ())]
    name = loc[0].upper() if loc else "configuration"
    value = err.get("input")
    secret = bool(loc) and loc[0] in SECRET_SETTINGS
    shown = f" (got {value!r})" if loc and not isinstance(value, dict) and not secret else ""
    message = err.get("msg", "invalid value").removeprefix("Value error, ")
    if not loc and _NAMED.match(message):  # a nested group's error already names its variable
        return message
    return f"{name}: {message}{shown}"


_NAMED = re.compile(r"[A-Z][A-Z0-9_]*: ")
