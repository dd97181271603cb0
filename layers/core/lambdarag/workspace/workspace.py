"""A Workspace: the stores, bindings, options and pipeline state of one workspace name."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lambdarag.indexing.extract import ExtractionOptions
from lambdarag.indexing.merge import MergeContext, MergeOptions
from lambdarag.llm.base import EmbeddingBinding
from lambdarag.llm.cache import CachedLLM
from lambdarag.storage.stores import KeyedLocks, Stores

if TYPE_CHECKING:
    from lambdarag.workspace.pipeline_status import SharedPipelineStatus

HISTORY_LIMIT = 5000
MESSAGE_LIMIT = 4096


@dataclass(frozen=True)
class IndexingOptions:
    chunk_size: int = 1200
    chunk_overlap: int = 100
    extract_batch_size: int = 8
    merge_batch_size: int = 50
    extraction: ExtractionOptions = field(default_factory=ExtractionOptions)
    merge: MergeOptions = field(default_factory=MergeOptions)


@dataclass(frozen=True)
class QueryOptions:
    """Server-side query defaults (TOP_K and friends) and retrieval knobs."""

    top_k: int = 40
    chunk_top_k: int = 20
    max_entity_tokens: int = 6000
    max_relation_tokens: int = 8000
    max_total_tokens: int = 30000
    cosine_threshold: float = 0.2
    related_chunk_number: int = 5
    kg_chunk_pick_method: str = "VECTOR"
    enable_llm_cache: bool = True
    language: str = "English"
    user_prompt_prefix: str = ""


@dataclass
class PipelineStatus:
    """The ``/documents/pipeline_status`` record of one workspace (contract §6.5)."""

    busy: bool = False
    job_name: str = "-"
    job_start: str | None = None
    docs: int = 0
    batchs: int = 0
    cur_batch: int = 0
    latest_message: str = ""
    cancellation_requested: bool = False
    history_messages: deque[str] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    total_messages: int = 0
    # Serverless only: ids of the documents whose executions are between prepare and
    # finalize/fail (lambdarag.serverless.steps); the job is busy while any is.
    active: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        message = message[:MESSAGE_LIMIT]
        self.latest_message = message
        self.history_messages.append(message)
        self.total_messages += 1

    def start_job(self, name: str, docs: int) -> None:
        self.busy = True
        self.job_name = name
        self.job_start = datetime.now(UTC).isoformat()
        self.docs = docs
        self.batchs = docs
        self.cur_batch = 0
        self.cancellation_requested = False

    def as_dict(self, limit: int = 1000) -> dict[str, Any]:
        history = list(self.history_messages)[-limit:]
        if self.total_messages > len(history):
            history.insert(0, f"[Truncated history messages: {len(history)}/{self.total_messages}]")
        return {
            "autoscanned": False,
            "busy": self.busy,
            "job_name": self.job_name,
            "job_start": self.job_start,
            "docs": self.docs,
            "batchs": self.batchs,
            "cur_batch": self.cur_batch,
            "request_pending": False,
            "latest_message": self.latest_message,
            "history_messages": history,
            "cancellation_requested": self.cancellation_requested,
            "scanning": False,
            "destructive_busy": False,
            "pending_enqueues": 0,
            "update_status": {},
        }


@dataclass
class Workspace:
    name: str
    stores: Stores
    llm: CachedLLM
    embedder: EmbeddingBinding
    indexing: IndexingOptions
    query: QueryOptions
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    pipeline: PipelineStatus = field(default_factory=PipelineStatus)
    # Set when several processes index this workspace (LAMBDARAG_SHARED_STATE): the
    # pipeline record then lives in the store, and ``pipeline`` is this process's copy.
    shared_status: SharedPipelineStatus | None = None

    async def refresh_pipeline(self) -> PipelineStatus:
        """The pipeline record, re-read from the store when it is shared."""
        if self.shared_status is not None:
            await self.shared_status.refresh(self.pipeline)
        return self.pipeline

    async def change_pipeline(self, edit: Callable[[PipelineStatus], None]) -> None:
        """Apply ``edit`` to the pipeline record (atomically in the store when shared)."""
        if self.shared_status is None:
            edit(self.pipeline)
        else:
            await self.shared_status.change(self.pipeline, edit)

    def merge_context(self) -> MergeContext:
        return MergeContext(self.stores, self.llm, self.embedder, self.locks, self.indexing.merge)
