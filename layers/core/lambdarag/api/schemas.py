"""Wire models of the LightRAG-compatible API. Engine types stay out."""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from lambdarag.query.param import TOO_SHORT, QueryParam, english_weight

MAX_QUERY_CHARS = 65536
MAX_AGGREGATE_CHARS = 131072
DocStatusValue = Literal[
    "pending", "parsing", "analyzing", "processing", "preprocessed", "processed", "failed"
]


class _ChunkParams(BaseModel):
    """One strategy's parameters: unknown keys and loose types (``"5"``, ``true`` for a
    number) are refused; a missing or null value means the server's default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    chunk_token_size: int | None = Field(None, ge=1)


class _OverlapParams(_ChunkParams):
    chunk_overlap_token_size: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> _OverlapParams:
        size, overlap = self.chunk_token_size, self.chunk_overlap_token_size
        if size is not None and overlap is not None and overlap >= size:
            raise ValueError("chunk_overlap_token_size must be < chunk_token_size")
        return self


class FixedTokenParams(_OverlapParams):
    split_by_character: str | None = None
    split_by_character_only: bool | None = None


class RecursiveCharacterParams(_OverlapParams):
    separators: list[Annotated[str, StringConstraints(max_length=256)]] | None = Field(
        None, max_length=64)


class ParagraphSemanticParams(_OverlapParams):
    drop_references: bool | None = None


class SemanticVectorParams(_ChunkParams):
    breakpoint_threshold_type: Literal[
        "percentile", "standard_deviation", "interquartile", "gradient"] | None = None
    breakpoint_threshold_amount: float | None = None
    buffer_size: int | None = Field(None, ge=1)

    @field_validator("breakpoint_threshold_amount", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("breakpoint_threshold_amount must be a finite number")
        return value

    @model_validator(mode="after")
    def _amount_in_range(self) -> SemanticVectorParams:
        amount = self.breakpoint_threshold_amount
        if amount is not None and amount <= 0:
            raise ValueError("breakpoint_threshold_amount must be > 0")
        if (amount is not None and amount > 100
                and self.breakpoint_threshold_type in ("percentile", "gradient")):
            raise ValueError("breakpoint_threshold_amount must be within (0, 100] for "
                             "percentile/gradient")
        return self


CHUNK_PARAMS: dict[str, type[_ChunkParams]] = {
    "fixed_token": FixedTokenParams, "recursive_character": RecursiveCharacterParams,
    "semantic_vector": SemanticVectorParams, "paragraph_semantic": ParagraphSemanticParams,
    "custom": FixedTokenParams,
}


class TextChunkingConfig(BaseModel):
    """How to chunk the inserted text (LightRAG 1.5's ``chunking``); see the README's
    "Chunking strategies"."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"strategy": "recursive_character", "params": {"chunk_token_size": 800}}]})

    strategy: Literal["fixed_token", "recursive_character", "semantic_vector",
                      "paragraph_semantic", "custom"] = "fixed_token"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _typed_params(self) -> TextChunkingConfig:
        typed = CHUNK_PARAMS[self.strategy].model_validate(self.params)
        self.params = typed.model_dump(exclude_none=True)
        return self


class InsertTextRequest(BaseModel):
    text: str = Field(min_length=1, description="The document text.", examples=["Alice works at Acme Corp."])
    file_source: str | None = Field(
        None, description="Source name: its basename is kept and a parser hint such as "
        "`.[mineru]` removed. Empty or missing means unknown_source.", examples=["notes.txt"],
    )
    chunking: TextChunkingConfig | None = Field(
        None, description="The chunking strategy and its parameters; none: the server's "
        "fixed_token defaults (CHUNK_SIZE, CHUNK_OVERLAP_SIZE, CHUNK_F_*).")

    @field_validator("text")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be empty")
        return value.strip()

    @field_validator("file_source")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 for c in value):
            raise ValueError("file_source must not contain control characters")
        return value


class InsertTextsRequest(BaseModel):
    texts: list[str] = Field(min_length=1, examples=[["First text.", "Second text."]])
    file_sources: list[str] | None = Field(
        None, description="One source name per text, unique by canonical basename (required; "
        "checked by the route, which answers 400).", examples=[["a.txt", "b.txt"]],
    )
    chunking: TextChunkingConfig | None = Field(
        None, description="One chunking strategy for every text; none: the server's defaults.")

    @field_validator("texts")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not t.strip() for t in value):
            raise ValueError("every text must be non-empty")
        return [t.strip() for t in value]


class InsertResponse(BaseModel):
    status: Literal["success", "duplicated", "partial_success", "failure"]
    message: str
    track_id: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(min_length=1, max_length=64)
    content: str = Field(max_length=32768)


class QueryRequest(BaseModel):
    """A question and its retrieval options (shared by /query, /query/stream and /query/data)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"query": "Who works at Acme Corp?", "mode": "mix", "include_references": True},
        {"query": "Which pages mention the Helios probe?", "mode": "naive", "chunk_top_k": 5,
         "include_chunk_content": True},
    ]})

    query: str = Field(
        max_length=MAX_QUERY_CHARS,
        description="The question. Not empty; except in bypass mode at least 3 English characters "
        "(each Chinese, Japanese or Korean character counts as 2).",
        examples=["Who works at Acme Corp?"],
    )
    mode: Literal["local", "global", "hybrid", "naive", "mix", "bypass"] = "mix"
    only_need_context: bool | None = None
    only_need_prompt: bool | None = None
    response_type: str | None = Field(None, min_length=1, max_length=256)
    top_k: int | None = Field(None, ge=1, le=1000)
    chunk_top_k: int | None = Field(None, ge=1, le=1000)
    max_entity_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_relation_tokens: int | None = Field(None, ge=1, le=1_000_000)
    max_total_tokens: int | None = Field(None, ge=1, le=1_000_000)
    hl_keywords: list[str] = Field(default_factory=list, max_length=64)
    ll_keywords: list[str] = Field(default_factory=list, max_length=64)
    conversation_history: list[Message] | None = Field(None, max_length=128)
    user_prompt: str | None = Field(None, max_length=MAX_QUERY_CHARS)
    disable_user_prompt_prefix: bool | None = None
    enable_rerank: bool | None = None
    include_references: bool | None = True
    include_chunk_content: bool | None = False
    include_progress: bool | None = False
    include_scores: bool | None = Field(
        False, description="/query/data only (a LambdaRAG addition): also give each entity and "
        "relation its `rank` (graph degree) and each chunk found by vector search its `score` "
        "(cosine similarity), as the web UI's retrieved view shows them.")
    stream: bool | None = None

    @field_validator("hl_keywords", "ll_keywords")
    @classmethod
    def _keyword_size(cls, value: list[str]) -> list[str]:
        if any(len(k) > 512 for k in value):
            raise ValueError("each keyword must be at most 512 characters")
        return value

    @field_validator("query")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Query must not be empty.")
        if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value):
            raise ValueError("Query must not contain control characters other than tab and "
                             "line breaks.")
        return value.strip()

    @model_validator(mode="after")
    def _check_query(self) -> QueryRequest:
        if self.mode != "bypass" and english_weight(self.query) < 3:
            raise ValueError(TOO_SHORT)
        history = json.dumps([m.model_dump() for m in self.conversation_history or []])
        if len(self.query) + len(self.user_prompt or "") + len(history) > MAX_AGGREGATE_CHARS:
            raise ValueError(
                f"query, user_prompt and conversation_history together exceed {MAX_AGGREGATE_CHARS} characters"
            )
        return self

    def to_param(self, *, stream: bool) -> QueryParam:
        return QueryParam(
            mode=self.mode,
            only_need_context=bool(self.only_need_context),
            only_need_prompt=bool(self.only_need_prompt),
            response_type=self.response_type or "Multiple Paragraphs",
            stream=stream,
            top_k=self.top_k,
            chunk_top_k=self.chunk_top_k,
            max_entity_tokens=self.max_entity_tokens,
            max_relation_tokens=self.max_relation_tokens,
            max_total_tokens=self.max_total_tokens,
            hl_keywords=tuple(self.hl_keywords),
            ll_keywords=tuple(self.ll_keywords),
            conversation_history=tuple(
                {"role": m.role, "content": m.content} for m in self.conversation_history or []
            ),
            user_prompt=self.user_prompt,
            disable_user_prompt_prefix=bool(self.disable_user_prompt_prefix),
            enable_rerank=self.enable_rerank,
            include_references=self.include_references is not False,
        )


class QueryResponse(BaseModel):
    response: str
    references: list[dict[str, Any]] | None = Field(
        None,
        description="Cited files: {reference_id, file_path}, plus pages, slides or sheets for PDF, "
        "PPTX and XLSX files and, with include_chunk_content, content (the cited chunks' texts).",
        examples=[[{"reference_id": "1", "file_path": "report.pdf", "pages": [2, 3]}]],
    )
    response_time: float | None = None
    llm_generated: bool = True


class QueryDataResponse(BaseModel):
    """/query/data's body: ``status`` is "success" or "failure" (then ``data`` is empty)."""

    status: Literal["success", "failure"]
    message: str
    data: dict[str, Any]
    metadata: dict[str, Any]


class ErrorDetail(BaseModel):
    """The body of a 4xx other than a validation error: what is wrong and what to fix."""

    detail: str


def example_response(
    description: str, example: Any, media_type: str = "application/json"
) -> dict[str, Any]:
    """A route's ``responses`` entry: ``description`` and one example body."""
    return {"description": description, "content": {media_type: {"example": example}}}


def examples_response(description: str, examples: dict[str, Any]) -> dict[str, Any]:
    """A route's ``responses`` entry with several JSON examples, keyed by their summary."""
    named = {key: {"summary": key, "value": value} for key, value in examples.items()}
    return {"description": description, "content": {"application/json": {"examples": named}}}


def error_response(description: str, detail: str) -> dict[str, Any]:
    """A route's ``responses`` entry for a ``{"detail": ...}`` error, with an example."""
    return {"model": ErrorDetail, **example_response(description, {"detail": detail})}


def validation_example(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """A route's ``openapi_extra``: an example added to FastAPI's generated 422 response."""
    error = {"type": kind, "loc": loc, "msg": msg}
    return {"responses": {"422": {"content": {"application/json": {"example": {"detail": [error]}}}}}}


class DocStatusResponse(BaseModel):
    id: str
    content_summary: str
    content_length: int
    status: str
    created_at: str
    updated_at: str
    track_id: str | None = None
    chunks_count: int | None = None
    error_msg: str | None = None
    metadata: dict[str, Any] | None = None
    file_path: str

    @classmethod
    def of(cls, record: dict[str, Any]) -> DocStatusResponse:
        return cls(**{k: record.get(k) for k in cls.model_fields} | {
            "content_summary": record.get("content_summary") or "",
            "content_length": record.get("content_length") or 0,
            "file_path": record.get("file_path") or "unknown_source",
        })


class TrackStatusResponse(BaseModel):
    track_id: str
    documents: list[DocStatusResponse]
    total_count: int
    status_summary: dict[str, int]


class DeleteDocRequest(BaseModel):
    doc_ids: list[str] = Field(min_length=1, examples=[["doc-0123abcd"]])
    delete_file: bool = False
    delete_llm_cache: bool = False

    @field_validator("doc_ids")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if any(not d.strip() for d in value):
            raise ValueError("doc_ids must not contain blank ids")
        if len(set(value)) != len(value):
            raise ValueError("doc_ids must be unique")
        return value


class DeleteDocResponse(BaseModel):
    status: Literal["deletion_started", "busy", "not_allowed"]
    message: str
    doc_id: str


DOC_STATUSES: tuple[str, ...] = (
    "pending", "parsing", "analyzing", "processing", "preprocessed", "processed", "failed"
)


class PaginatedDocsRequest(BaseModel):
    status_filter: DocStatusValue | None = None
    status_filters: list[DocStatusValue] | None = None
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=10, le=200)
    sort_field: Literal["created_at", "updated_at", "id", "file_path"] = "updated_at"
    sort_direction: Literal["asc", "desc"] = "desc"

    def statuses(self) -> list[str] | None:
        if self.status_filters is not None:
            return list(self.status_filters) or None
        return [self.status_filter] if self.status_filter else None


class PaginationInfo(BaseModel):
    page: int
    page_size: int
    total_count: int
    total_pages: int
    has_next: bool
    has_prev: bool


class PaginatedDocsResponse(BaseModel):
    documents: list[DocStatusResponse]
    pagination: PaginationInfo
    status_counts: dict[str, int]


class StatusCountsResponse(BaseModel):
    status_counts: dict[str, int]


class StatusMessage(BaseModel):
    status: str
    message: str


class ForceResetRequest(BaseModel):
    confirm: bool = Field(False, description="Must be true (LightRAG's safety switch).")


class ForceResetResponse(BaseModel):
    status: Literal["reset", "no_recovery_required"]
    message: str
    cancelled_manual_retries: int = 0


class ReprocessResponse(BaseModel):
    status: Literal["reprocessing_started"]
    message: str
    track_id: str


class ScanResponse(BaseModel):
    status: Literal["scanning_started", "scanning_skipped_pipeline_busy"]
    message: str
    track_id: str


class SourceConflict(BaseModel):
    canonical_source_key: str
    candidate_count: int
    sample_doc_ids: list[str]


class SourceConflictsResponse(BaseModel):
    conflicts: list[SourceConflict]
    next_cursor: str | None = Field(description="Pass it as ``cursor`` for the next page; "
                                    "null on the last page.")


class RepairConflictRequest(BaseModel):
    canonical_source_key: str = Field(min_length=1, examples=["report.pdf"])
    primary_doc_id: str = Field(min_length=1, examples=["doc-3f2c2f5bd3c1ba2c6a1e0e1c9ad8e2c4"])
    expected_candidate_count: int | None = Field(
        None, ge=1, description="candidate_count of the dry run; 409 if it changed since."
    )
    expected_candidate_fingerprint: str | None = Field(
        None, description="fingerprint of the dry run; 409 if the candidates changed since."
    )
    dry_run: bool = Field(True, description="true: only report what a commit would do.")


class RepairConflictResponse(BaseModel):
    canonical_source_key: str
    primary_doc_id: str
    candidate_count: int
    fingerprint: str
    demoted_sample_doc_ids: list[str]
    committed: bool
