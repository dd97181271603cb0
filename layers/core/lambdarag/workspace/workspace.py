"""A Workspace: the stores, bindings, options and pipeline status of one workspace name.

The pipeline status record and its rules live in :mod:`lambdarag.workspace.pipeline_status`;
the workspace holds this process's copy and reaches the stored one through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lambdarag.indexing.extract import ExtractionOptions
from lambdarag.indexing.merge import MergeContext, MergeOptions
from lambdarag.indexing.strategies import ChunkerDefaults
from lambdarag.llm.base import EmbeddingBinding
from lambdarag.llm.cache import CachedLLM
from lambdarag.storage.stores import KeyedLocks, Stores
from lambdarag.workspace.pipeline_status import PipelineStatus

if TYPE_CHECKING:
    from lambdarag.documents.ports import InputStore
    from lambdarag.llm.rerank import RerankBinding
    from lambdarag.workspace.pipeline_status import SharedPipelineStatus

@dataclass(frozen=True)
class IndexingOptions:
    extract_batch_size: int = 8
    merge_batch_size: int = 50
    extraction: ExtractionOptions = field(default_factory=ExtractionOptions)
    merge: MergeOptions = field(default_factory=MergeOptions)
    chunker: ChunkerDefaults = field(default_factory=ChunkerDefaults)


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
    rerank_by_default: bool = True  # RERANK_BY_DEFAULT: a query's enable_rerank when unset
    min_rerank_score: float = 0.0  # MIN_RERANK_SCORE: reranked chunks under it are dropped


@dataclass
class Workspace:
    name: str
    stores: Stores
    llm: CachedLLM
    embedder: EmbeddingBinding
    indexing: IndexingOptions
    query: QueryOptions
    # Where the workspace's files are kept: INPUT_DIR locally, the S3 drop folder on AWS.
    inputs: InputStore
    locks: KeyedLocks = field(default_factory=KeyedLocks)
    pipeline: PipelineStatus = field(default_factory=PipelineStatus)
    # Set when several processes index this workspace (LAMBDARAG_SHARED_STATE): the
    # pipeline record then lives in the store, and ``pipeline`` is this process's copy.
    shared_status: SharedPipelineStatus | None = None
    # RERANK_BINDING's reranker, shared by every workspace; None: chunks keep their order.
    reranker: RerankBinding | None = None

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
