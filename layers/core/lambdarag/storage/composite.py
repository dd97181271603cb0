"""One workspace's stores drawn from several backends.

On AWS the state lives in DynamoDB, the vectors in OpenSearch and the graph in Neptune;
LightRAG lets each kind be chosen on its own (``LIGHTRAG_VECTOR_STORAGE``,
``LIGHTRAG_GRAPH_STORAGE``, ...). A composite factory takes its stores from a base
factory and overrides the kinds given, so every combination is one object.

Example::

    factory = CompositeStorageFactory(
        EmbeddedStorageFactory(working_dir, "finance"),
        vectors=lambda namespace, dim: OpenSearchVectorStorage(client, "finance", namespace, dim),
    )
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lambdarag.storage import base as contracts
from lambdarag.storage.base import StorageFactory

Closer = Callable[[], Awaitable[None]]


class CompositeStorageFactory(StorageFactory):
    """``base``'s stores, with vectors and/or the graph from other backends.

    Stores made by ``vectors`` and ``graph`` are cached like the base factory's.
    ``closers`` release what the overriding backends opened; they run after the base
    factory closes, in order, each at most once.
    """

    def __init__(
        self,
        base: StorageFactory,
        *,
        vectors: Callable[[str, int], contracts.VectorStorage] | None = None,
        graph: Callable[[], contracts.GraphStorage] | None = None,
        closers: Sequence[Closer] = (),
    ) -> None:
        self.workspace = base.workspace
        self._base = base
        self._make_vectors = vectors
        self._make_graph = graph
        self._closers = list(closers)
        self._vectors: dict[str, contracts.VectorStorage] = {}
        self._graph: contracts.GraphStorage | None = None

    def kv(self, namespace: str) -> contracts.KVStorage:
        return self._base.kv(namespace)

    def doc_status(self) -> contracts.DocStatusStorage:
        return self._base.doc_status()

    def fragments(self) -> contracts.FragmentStorage:
        return self._base.fragments()

    def vectors(self, namespace: str, dim: int) -> contracts.VectorStorage:
        if self._make_vectors is None:
            return self._base.vectors(namespace, dim)
        if namespace not in self._vectors:
            self._vectors[namespace] = self._make_vectors(namespace, dim)
        return self._vectors[namespace]

    def graph(self) -> contracts.GraphStorage:
        if self._make_graph is None:
            return self._base.graph()
        if self._graph is None:
            self._graph = self._make_graph()
        return self._graph

    async def close(self) -> None:
        await self._base.close()
        closers, self._closers = self._closers, []
        for close in closers:
            await close()
