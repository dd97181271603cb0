"""The Engine: the graph-RAG core of one process.

It owns the LLM and embedding bindings (shared by every workspace, so MAX_ASYNC
limits the whole process), opens workspaces on demand and caches them, and holds the
runtime's ports: the runner, the input store and the delete queue. It never chooses
them: the composition roots (:mod:`lambdarag.runtime.local`, :mod:`lambdarag.runtime.aws`)
build the Engine with the adapters of their runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdarag.config import Settings
from lambdarag.documents.scan import ScanJob
from lambdarag.indexing.extract import ExtractionOptions
from lambdarag.indexing.merge import MergeOptions
from lambdarag.indexing.strategies import ChunkerDefaults
from lambdarag.indexing.summarize import SummaryOptions
from lambdarag.llm import create_embedding, create_llm, create_rerank
from lambdarag.llm.base import EmbeddingBinding, LLMBinding
from lambdarag.llm.cache import CachedLLM
from lambdarag.llm.probe import ProviderProbe
from lambdarag.llm.queue import EmbeddingQueue
from lambdarag.pipeline.ports import Runner, WorkspaceOpener
from lambdarag.storage.base import StorageFactory
from lambdarag.storage.stores import KeyedLocks, Stores
from lambdarag.utils import sanitise_workspace
from lambdarag.workspace.workspace import IndexingOptions, QueryOptions, Workspace

if TYPE_CHECKING:
    from lambdarag.documents.ports import DeleteQueue, InputStore
    from lambdarag.llm.rerank import RerankBinding
    from lambdarag.storage.select import StorageSelection
    from lambdarag.workspace.pipeline_status import SharedPipelineStatus

logger = logging.getLogger(__name__)

# Lease records live in their own KV namespace: not one of Stores', so clearing the
# documents (which drops every store) never drops a lock someone holds.
LEASE_NAMESPACE = "key_leases"

StorageMaker = Callable[[str], StorageFactory]
WorkspaceLister = Callable[[], list[str]]


def indexing_options(settings: Settings) -> IndexingOptions:
    cache = settings.enable_llm_cache_for_extract
    return IndexingOptions(
        extract_batch_size=settings.extract_batch_size,
        chunker=ChunkerDefaults(
            strategies=settings.chunker_strategies(),
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap_size,
            reference_headings=tuple(h.strip() for h in settings.chunk_p_references_headings
                                     .split("|") if h.strip()),
            references_tail_n=settings.chunk_p_references_tail_n,
        ),
        extraction=ExtractionOptions(
            language=settings.summary_language,
            max_gleaning=settings.max_gleaning,
            max_records=settings.max_extraction_records,
            max_entities=settings.max_extraction_entities,
            max_input_tokens=settings.max_extract_input_tokens,
            use_cache=cache,
            use_json=settings.entity_extraction_use_json,
            type_profile=settings.entity_type_profile,
            **({"entity_types": settings.entity_type_list} if settings.entity_type_list else {}),
        ),
        merge=MergeOptions(
            summary=SummaryOptions(
                language=settings.summary_language,
                force_llm_summary_on_merge=settings.force_llm_summary_on_merge,
                summary_max_tokens=settings.summary_max_tokens,
                summary_length_recommended=settings.summary_length_recommended,
                summary_context_size=settings.summary_context_size,
                summary_batch_size=settings.lambdarag_summary_batch_size,
                use_cache=cache,
            ),
            max_source_ids_per_entity=settings.max_source_ids_per_entity,
            max_source_ids_per_relation=settings.max_source_ids_per_relation,
            source_ids_limit_method=settings.source_ids_limit_method,
            max_file_paths=settings.max_file_paths,
        ),
    )


def query_options(settings: Settings) -> QueryOptions:
    return QueryOptions(
        top_k=settings.top_k,
        chunk_top_k=settings.chunk_top_k,
        max_entity_tokens=settings.max_entity_tokens,
        max_relation_tokens=settings.max_relation_tokens,
        max_total_tokens=settings.max_total_tokens,
        cosine_threshold=settings.cosine_threshold,
        related_chunk_number=settings.related_chunk_number,
        kg_chunk_pick_method=settings.kg_chunk_pick_method,
        enable_llm_cache=settings.enable_llm_cache,
        language=settings.summary_language,
        user_prompt_prefix=settings.user_prompt,
        rerank_by_default=settings.rerank_by_default,
        min_rerank_score=settings.min_rerank_score,
    )


def selected_storage(settings: Settings) -> StorageSelection:
    """The backends LIGHTRAG_*_STORAGE chose; adapter modules load only when selected."""
    from lambdarag.storage.select import StorageSelection

    return StorageSelection.from_settings(settings)


@dataclass(frozen=True)
class RuntimePorts:
    """What differs between runtimes, as the composition root built it."""

    runner: Callable[[WorkspaceOpener], Runner]  # given the Engine's workspace opener
    inputs: InputStore
    deletes: DeleteQueue


class Engine:
    """Bindings + workspaces + the runtime's ports for one process."""

    def __init__(
        self,
        settings: Settings,
        *,
        ports: RuntimePorts,
        llm: LLMBinding | None = None,
        embedder: EmbeddingBinding | None = None,
        reranker: RerankBinding | None = None,
        storage: StorageMaker | None = None,
        workspaces: WorkspaceLister | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm or create_llm(settings.llm_config())
        self.embedder = embedder or EmbeddingQueue(
            create_embedding(settings.embedding_config()),
            wait=settings.lambdarag_embedding_batch_wait_ms / 1000)
        rerank = settings.rerank_config()
        self.reranker = reranker or (create_rerank(rerank) if rerank else None)
        self.probes = {"llm": ProviderProbe(self.llm.config),
                       "embedding": ProviderProbe(self.embedder.config)}
        if self.reranker is not None:
            self.probes["rerank"] = ProviderProbe(self.reranker.config)
        self._selection: StorageSelection | None = None
        if storage is None:
            self._selection = selected_storage(settings)
            storage, workspaces = self._selection.open, self._selection.workspaces
        self._storage = storage
        self._stored_workspaces = workspaces or (lambda: [])
        self._indexing = indexing_options(settings)
        self._query = query_options(settings)
        self._workspaces: dict[str, Workspace] = {}
        self._factories: dict[str, StorageFactory] = {}
        self._opening = asyncio.Lock()
        self.runner: Runner = ports.runner(self.workspace)
        self.inputs = ports.inputs
        self.deletes = ports.deletes
        self.scan_jobs: dict[str, ScanJob] = {}
        self._preloading: asyncio.Task[None] | None = None

    async def workspace(self, name: str | None = None) -> Workspace:
        """The workspace ``name`` (default: WORKSPACE), opened once per process."""
        key = sanitise_workspace(self.settings.workspace if name is None else name)
        found = self._workspaces.get(key)
        if found is not None:
            return found
        async with self._opening:
            if key not in self._workspaces:
                factory = self._storage(key)
                stores = Stores.open(factory, self.embedder.dim)
                self._factories[key] = factory
                self._workspaces[key] = Workspace(
                    name=key,
                    stores=stores,
                    llm=CachedLLM(self.llm, stores.llm_response_cache),
                    embedder=self.embedder,
                    indexing=self._indexing,
                    query=self._query,
                    inputs=self.inputs,
                    locks=self._locks(factory),
                    shared_status=self._shared_status(factory),
                    reranker=self.reranker,
                )
        return self._workspaces[key]

    def _locks(self, factory: StorageFactory) -> KeyedLocks:
        """In-process locks, or leases every process shares (``LAMBDARAG_SHARED_LOCKS``)."""
        if not self.settings.shared_locks:
            return KeyedLocks()
        from lambdarag.storage.leases import SharedKeyLocks

        return SharedKeyLocks(
            factory.kv(LEASE_NAMESPACE),
            ttl=self.settings.lambdarag_lock_ttl,
            wait=self.settings.lambdarag_lock_wait,
        )

    def _shared_status(self, factory: StorageFactory) -> SharedPipelineStatus | None:
        if not self.settings.shared_pipeline_status:
            return None
        from lambdarag.workspace.pipeline_status import STATUS_NAMESPACE, SharedPipelineStatus

        return SharedPipelineStatus(factory.kv(STATUS_NAMESPACE))

    async def pipeline_busy(self, workspace: str) -> bool:
        """Whether documents of ``workspace`` are being indexed, in any process."""
        if not self.settings.shared_pipeline_status:
            return self.runner.is_busy(workspace)
        ws = await self.workspace(workspace)
        return (await ws.refresh_pipeline()).busy

    async def providers(self) -> dict[str, dict[str, Any]]:
        """Each provider's binding, host, setting and reachability (probes cached a while)."""
        names = list(self.probes)
        found = await asyncio.gather(*(self.probes[name].check() for name in names))
        return {name: self.probes[name].report(result) for name, result in zip(names, found, strict=True)}

    async def unreachable_providers(self) -> list[str]:
        """One line per unreachable provider, in the words its requests would fail with."""
        return [str(p["error"]) for p in (await self.providers()).values() if p["reachable"] is False]

    def workspace_names(self) -> list[str]:
        """Every workspace with stored data or opened by this process, sorted ("" is the root)."""
        return sorted({*self._stored_workspaces(), *self._workspaces})

    async def start(self) -> int:
        """Start the runner and resume the unfinished documents of every stored workspace."""
        self.runner.start()
        names = dict.fromkeys([self.settings.workspace, *self._stored_workspaces()])
        resumed = sum([await self.runner.resume(name) for name in names])
        self._preloading = asyncio.create_task(self._preload(self.settings.workspace))
        return resumed

    async def _preload(self, name: str) -> None:
        """Load the default workspace's vector indexes in the background after start."""
        try:
            await (await self.workspace(name)).stores.preload()
        except Exception as exc:  # noqa: BLE001 - the first query loads them instead
            logger.warning("preloading the vector indexes of %r failed: %s", name, exc)

    async def aclose(self) -> None:
        if self._preloading is not None:
            self._preloading.cancel()
            await asyncio.gather(self._preloading, return_exceptions=True)
        await self.runner.stop()
        for factory in self._factories.values():
            await factory.close()
        self._factories.clear()
        self._workspaces.clear()
        if self._selection is not None:
            await self._selection.aclose()
        await self.llm.aclose()
        if self.embedder is not self.llm:
            await self.embedder.aclose()
        if self.reranker is not None:
            await self.reranker.aclose()
