"""The named stores of one workspace, opened from a StorageFactory."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields

from lambdarag.storage.base import (
    DocStatusStorage,
    FragmentStorage,
    GraphStorage,
    KVStorage,
    StorageFactory,
    VectorStorage,
)

KV_NAMESPACES = (
    "full_docs",
    "text_chunks",
    "llm_response_cache",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "doc_tombstones",
    "doc_llm_usage",
)


@dataclass
class Stores:
    full_docs: KVStorage
    text_chunks: KVStorage
    llm_response_cache: KVStorage
    full_entities: KVStorage
    full_relations: KVStorage
    entity_chunks: KVStorage
    relation_chunks: KVStorage
    doc_tombstones: KVStorage  # doc ids being or already deleted (see pipeline._guard)
    doc_llm_usage: KVStorage  # "<doc id>|<step>|..." -> the LLM calls/tokens of one step
    doc_status: DocStatusStorage
    fragments: FragmentStorage
    entities_vdb: VectorStorage
    relationships_vdb: VectorStorage
    chunks_vdb: VectorStorage
    graph: GraphStorage

    @classmethod
    def open(cls, factory: StorageFactory, dim: int) -> Stores:
        return cls(
            **{ns: factory.kv(ns) for ns in KV_NAMESPACES},
            doc_status=factory.doc_status(),
            fragments=factory.fragments(),
            entities_vdb=factory.vectors("entities", dim),
            relationships_vdb=factory.vectors("relationships", dim),
            chunks_vdb=factory.vectors("chunks", dim),
            graph=factory.graph(),
        )

    async def preload(self) -> None:
        """Load the vector stores' in-memory indexes, so the first query does not wait."""
        for store in (self.entities_vdb, self.relationships_vdb, self.chunks_vdb):
            await store.preload()

    async def ensure(self) -> list[str]:
        """Create every store's missing resources (tables, indexes) ahead of use.

        Idempotent and safe to race; returns the names of the stores checked. Distinct
        store objects only (the KV namespaces of one backend may share a table).
        """
        seen: set[int] = set()
        names = []
        for f in fields(self):
            store = getattr(self, f.name)
            if id(store) not in seen:
                seen.add(id(store))
                await store.ensure()
                names.append(f.name)
        return names

    async def drop_documents(self) -> tuple[int, list[str]]:
        """Drop everything but the LLM cache (``DELETE /documents``).

        Returns how many stores were dropped and the names of those that failed.
        """
        dropped, failed = 0, []
        for f in fields(self):
            if f.name == "llm_response_cache":
                continue
            try:
                await getattr(self, f.name).drop()
                dropped += 1
            except Exception:  # noqa: BLE001 - reported per store, the others still drop
                failed.append(f.name)
        return dropped, failed


class KeyedLocks:
    """In-process locks per key; several keys are taken in sorted order (no deadlock)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, keys: Iterable[str]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))
        waiting: list[str] = []
        acquired: list[str] = []
        try:
            for key in ordered:
                self._users[key] += 1
                waiting.append(key)
                await self._locks[key].acquire()
                acquired.append(key)
            yield
        finally:
            for key in reversed(acquired):
                self._locks[key].release()
            for key in waiting:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key]
                    self._locks.pop(key, None)
