"""Storage contracts: the ports every backend implements.

Each store belongs to one workspace; a backend isolates workspaces completely
(separate files, tables, indexes or id prefixes). All methods are async. Batch
forms are part of the contract because the remote backends (DynamoDB, OpenSearch,
Neptune) depend on them; an embedded adapter may simply loop.

Records are plain JSON-able dicts so they cross every boundary unchanged (HTTP,
Step Functions payloads, DynamoDB items). Storage adapters never import the engine.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from lambdarag.errors import LambdaRAGError

if TYPE_CHECKING:
    import numpy as np


GRAPH_FIELD_SEP = "<SEP>"


class StorageError(LambdaRAGError):
    """Base error of every storage adapter (503: the store cannot serve the request now)."""

    http_status = 503


class StoreUnavailableError(StorageError):
    """The backing server or file cannot be reached or opened."""

    retryable = True


class StoreThrottledError(StoreUnavailableError):
    """The backing server refused the request for now (429, throttling); back off and retry."""


class VersionConflictError(StorageError):
    """An optimistic write lost against a concurrent writer; re-read and retry."""

    http_status = 409
    retryable = True


class Provisioned:
    """A store whose backing resources (table, index) may have to be created first."""

    async def ensure(self) -> None:
        """Create this store's resources if missing and check their settings.

        Idempotent and safe to run from many processes at once ("already exists" is
        success). Stores that need nothing made ahead (files, a schemaless graph) do
        nothing. Reads never need it: every store answers a missing resource as empty.
        """


# --------------------------------------------------------------------------- KV


class KVStorage(Provisioned, ABC):
    """A namespaced key -> JSON object store (full_docs, text_chunks, llm cache, ...)."""

    namespace: str

    @abstractmethod
    async def get_by_id(self, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def get_by_ids(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        """Values in the order of ``keys``; None where a key is absent."""

    @abstractmethod
    async def filter_keys(self, keys: Sequence[str]) -> set[str]:
        """The subset of ``keys`` that is NOT stored yet."""

    @abstractmethod
    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        """Insert or replace whole values; durable when the call returns."""

    @abstractmethod
    async def delete(self, keys: Sequence[str]) -> None: ...

    @abstractmethod
    async def keys(self, prefix: str = "") -> list[str]:
        """All keys (optionally those starting with ``prefix``), sorted."""

    @abstractmethod
    async def drop(self) -> None:
        """Remove every key of this namespace in this workspace."""

    # Optimistic versions: the version of a value is ``value_version(value)`` (a hash of
    # its canonical JSON), whoever wrote it, so a compare-and-set across processes needs
    # no extra bookkeeping; writers that must not suffer ABA put a nonce in the value.

    @abstractmethod
    async def get_versioned(self, keys: Sequence[str]) -> list[Versioned]:
        """``(value, version)`` per key in order; ``(None, None)`` where a key is absent."""

    @abstractmethod
    async def put_if_version(
        self, key: str, value: dict[str, Any] | None, expected: str | None
    ) -> str | None:
        """Write ``value`` (delete when None) only if ``key`` is still at ``expected``.

        ``expected=None`` means the key must be absent. Atomic against every other
        writer, in any process. Returns the new version (None after a delete); raises
        VersionConflictError when the stored version differs.
        """


Versioned = tuple[dict[str, Any] | None, str | None]


def value_json(value: Any) -> str:
    """The canonical JSON text of a stored value (what versions are computed from)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def value_version(value: Any) -> str:
    return hashlib.sha1(value_json(value).encode("utf-8")).hexdigest()


# -------------------------------------------------------------------- doc status


class DocStatusRecord(TypedDict, total=False):
    """One row of doc_status; ``id`` is the key."""

    id: str
    status: str  # pending|parsing|analyzing|processing|preprocessed|processed|failed
    content_summary: str
    content_length: int
    file_path: str
    created_at: str  # ISO-8601 UTC
    updated_at: str
    track_id: str | None
    chunks_count: int | None
    chunks_list: list[str]
    error_msg: str | None
    metadata: dict[str, Any]
    content_hash: str


@dataclass(frozen=True)
class DocPage:
    documents: list[DocStatusRecord]
    total_count: int


class DocStatusStorage(Provisioned, ABC):
    """Per-document lifecycle rows with the listings the API needs."""

    @abstractmethod
    async def get(self, doc_id: str) -> DocStatusRecord | None: ...

    @abstractmethod
    async def get_many(self, doc_ids: Sequence[str]) -> list[DocStatusRecord | None]: ...

    @abstractmethod
    async def upsert(self, records: Sequence[DocStatusRecord]) -> None:
        """Insert or replace whole rows (each must carry ``id``, else ValueError)."""

    @abstractmethod
    async def delete(self, doc_ids: Sequence[str]) -> None: ...

    @abstractmethod
    async def by_status(self, statuses: Sequence[str]) -> list[DocStatusRecord]: ...

    async def by_track_id(self, track_id: str) -> list[DocStatusRecord]:
        return await self._by_field("track_id", track_id)

    async def by_file_path(self, file_path: str) -> list[DocStatusRecord]:
        return await self._by_field("file_path", file_path)

    async def by_content_hash(self, content_hash: str) -> list[DocStatusRecord]:
        return await self._by_field("content_hash", content_hash)

    @abstractmethod
    async def _by_field(self, name: str, value: str) -> list[DocStatusRecord]:
        """Every record whose field ``name`` (``track_id``, ``file_path``, ``content_hash``)
        equals ``value``, by id."""

    @abstractmethod
    async def status_counts(self) -> dict[str, int]:
        """Counts per status value present (no zero entries, no "all")."""

    async def page(
        self,
        *,
        statuses: Sequence[str] | None,
        page: int,
        page_size: int,
        sort_field: str,  # created_at | updated_at | id | file_path
        sort_direction: str,  # asc | desc
    ) -> DocPage:
        """Page ``page`` (1-based) of the rows whose status is in ``statuses`` (None or
        empty = all), ordered by ``sort_field`` then ``id``, both in ``sort_direction``;
        ``total_count`` counts every matching row. Bad arguments raise ValueError."""
        check_page_args(page, page_size, sort_field, sort_direction)
        wanted = list(dict.fromkeys(statuses or ()))
        return await self._page(wanted, page, page_size, sort_field, sort_direction)

    @abstractmethod
    async def _page(
        self, statuses: list[str], page: int, page_size: int, sort_field: str, sort_direction: str
    ) -> DocPage:
        """:meth:`page` with checked arguments; ``statuses`` without repeats (empty = all)."""

    @abstractmethod
    async def drop(self) -> None: ...


# ------------------------------------------------------------------- fragments


class EntityFragment(TypedDict, total=False):
    """What one chunk's extraction said about one entity (immutable)."""

    entity_name: str
    chunk_id: str
    entity_type: str
    description: str
    file_path: str
    timestamp: int


class RelationFragment(TypedDict, total=False):
    """What one chunk's extraction said about one relation (pair sorted: src < tgt)."""

    src_id: str
    tgt_id: str
    chunk_id: str
    keywords: str
    description: str
    weight: float
    file_path: str
    timestamp: int


class FragmentStorage(Provisioned, ABC):
    """Immutable extraction results keyed (entity, chunk) and (pair, chunk).

    Writing a chunk's fragments replaces that chunk's earlier fragments, so a
    re-run extraction is idempotent. Merging reads all fragments of a key.
    """

    @abstractmethod
    async def put_chunk_fragments(
        self,
        chunk_id: str,
        entities: Sequence[EntityFragment],
        relations: Sequence[RelationFragment],
    ) -> None: ...

    @abstractmethod
    async def entity_fragments(self, names: Sequence[str]) -> dict[str, list[EntityFragment]]:
        """All fragments per entity name; names without fragments map to []."""

    @abstractmethod
    async def relation_fragments(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[RelationFragment]]:
        """All fragments per sorted pair; pairs without fragments map to []."""

    @abstractmethod
    async def keys_for_chunks(
        self, chunk_ids: Sequence[str]
    ) -> tuple[set[str], set[tuple[str, str]]]:
        """Entity names and sorted pairs that have a fragment from any of ``chunk_ids``."""

    @abstractmethod
    async def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Delete every fragment written by these chunks."""

    @abstractmethod
    async def drop(self) -> None: ...


# ---------------------------------------------------------------------- vectors


class VectorHit(TypedDict, total=False):
    id: str
    score: float  # cosine similarity
    # plus the stored metadata fields


class VectorStorage(Provisioned, ABC):
    """Cosine top-k over one namespace (entities, relationships, chunks)."""

    namespace: str
    dim: int

    @abstractmethod
    async def upsert(self, items: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        """Store ``items[i]`` (must carry ``id``; other keys are metadata) with ``vectors[i]``."""

    @abstractmethod
    async def query(
        self,
        vector: np.ndarray,
        top_k: int,
        *,
        threshold: float = 0.0,
        doc_id: str | None = None,
    ) -> list[VectorHit]:
        """Best ``top_k`` hits with cosine > threshold, best first (optionally one doc's only,
        matching the ``full_doc_id`` metadata field)."""

    @abstractmethod
    async def get_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        """Metadata (with ``id``) in the order of ``ids``."""

    @abstractmethod
    async def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    async def preload(self) -> None:
        """Load ahead what the first query would (an in-memory index); by default nothing,
        as for stores that search on a server."""

    async def similarities(self, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine of ``vector`` with each stored vector of ``ids`` (absent ids left out).

        This default reads the vectors; a store that holds them in memory scores in place.
        """
        import numpy as np

        query = normalise(vector)
        stored = await self.get_vectors(ids)
        return {i: float(np.dot(normalise(v), query)) for i, v in stored.items()}

    @abstractmethod
    async def delete(self, ids: Sequence[str]) -> None: ...

    @abstractmethod
    async def count(self) -> int: ...

    @abstractmethod
    async def drop(self) -> None: ...


class CheckedVectorStorage(VectorStorage):
    """A vector store whose base checks the arguments: template for the adapters.

    ``upsert`` skips an empty batch and checks the vectors' shape (:func:`upsert_matrix`);
    ``query`` flattens the vector, checks its dimension and answers ``[]`` for
    ``top_k <= 0``. An adapter writes only :meth:`_upsert_rows` and :meth:`_search`.
    """

    async def upsert(self, items: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        if len(items) == 0:
            return
        await self._upsert_rows(items, upsert_matrix(self.namespace, self.dim, len(items), vectors))

    async def query(self, vector: np.ndarray, top_k: int, *, threshold: float = 0.0,
                    doc_id: str | None = None) -> list[VectorHit]:
        import numpy as np

        flat = np.asarray(vector).reshape(-1)
        check_dim(self.namespace, self.dim, flat.shape[0])
        if top_k <= 0:
            return []
        return await self._search(flat, top_k, threshold, doc_id)

    @abstractmethod
    async def _upsert_rows(self, items: Sequence[dict[str, Any]], matrix: np.ndarray) -> None:
        """Store ``items[i]`` with row ``i`` of ``matrix`` (float32, shape checked, not empty)."""

    @abstractmethod
    async def _search(
        self, flat: np.ndarray, top_k: int, threshold: float, doc_id: str | None
    ) -> list[VectorHit]:
        """The hits of a flat query vector of the right dimension, ``top_k >= 1``."""


# ------------------------------------------------------------------------ graph


@dataclass
class KnowledgeGraph:
    """The ``/graphs`` answer: nodes and edges in LightRAG's wire shape."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    is_truncated: bool = False


def weight_of(value: Any) -> float:
    """An edge's ``weight`` property as a number (0.0 when missing or not numeric)."""
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def best_edges(
    rank: dict[tuple[str, str], int], weights: dict[tuple[str, str], float]
) -> list[tuple[str, str]]:
    """The weighed pairs best first: rank, then weight, descending; then pair ascending."""
    return sorted(weights, key=lambda pair: (-rank[pair], -weights[pair], pair))


class GraphStorage(Provisioned, ABC):
    """An undirected property graph: node id = entity name; edges keyed by sorted pair.

    Node properties: entity_id, entity_type, description, source_id, file_path,
    created_at (int unix seconds), plus anything else (scalars only). Edge
    properties: weight (float), description, keywords, source_id, file_path, created_at.
    """

    @abstractmethod
    async def has_node(self, name: str) -> bool: ...

    @abstractmethod
    async def get_nodes(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Properties of the nodes that exist (absent names are left out)."""

    @abstractmethod
    async def get_edges(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Properties per pair as given (either orientation finds the edge); absent pairs left out."""

    @abstractmethod
    async def node_degrees(self, names: Sequence[str]) -> dict[str, int]:
        """Degree per name; 0 for absent nodes."""

    @abstractmethod
    async def node_edges(self, names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """Edges (name, neighbour) per node; [] for absent nodes."""

    async def ranked_edges(self, names: Sequence[str]) -> list[tuple[tuple[str, str], int]]:
        """Every distinct edge touching ``names`` as (sorted pair, rank), best first.

        Rank is the sum of both endpoints' degrees; best first means rank descending,
        then weight descending, then pair ascending. Properties are left to
        :meth:`get_edges`, so a caller reads only those of the edges it can use (a hub
        may have thousands). This default reads them all; adapters rank from indexes.
        """
        incident = await self.node_edges(names)
        pairs = list(dict.fromkeys(sorted_pair(a, b) for n in names for a, b in incident.get(n, ())))
        degrees = await self.node_degrees(sorted({n for pair in pairs for n in pair}))
        rank = {pair: degrees.get(pair[0], 0) + degrees.get(pair[1], 0) for pair in pairs}
        props = await self.get_edges(pairs)
        weights = {pair: weight_of(p.get("weight")) for pair, p in props.items()}
        return [(pair, rank[pair]) for pair in best_edges(rank, weights)]

    @abstractmethod
    async def upsert_nodes(self, nodes: dict[str, dict[str, Any]]) -> None:
        """Create or replace nodes (properties replaced whole)."""

    @abstractmethod
    async def upsert_edges(self, edges: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Create or replace edges; both endpoints must exist."""

    @abstractmethod
    async def delete_nodes(self, names: Sequence[str]) -> None:
        """Delete nodes and their edges."""

    @abstractmethod
    async def delete_edges(self, pairs: Sequence[tuple[str, str]]) -> None: ...

    @abstractmethod
    async def all_labels(self) -> list[str]:
        """Every node name, sorted."""

    @abstractmethod
    async def popular_labels(self, limit: int) -> list[str]:
        """Names by degree descending, then name ascending."""

    @abstractmethod
    async def search_labels(self, query: str, limit: int) -> list[str]:
        """Case-insensitive substring matches, scored as LightRAG scores them."""

    @abstractmethod
    async def subgraph(self, label: str, max_depth: int, max_nodes: int) -> KnowledgeGraph:
        """``*``: the ``max_nodes`` highest-degree nodes; otherwise a BFS from ``label``, as
        LightRAG does.

        The BFS goes level by level up to ``max_depth`` hops, taking higher-degree
        nodes first within a level, until ``max_nodes`` nodes are selected.
        Edges are every edge among the selected nodes. :func:`check_subgraph_args` says
        which arguments are refused.
        """

    @abstractmethod
    async def counts(self) -> tuple[int, int]:
        """(number of nodes, number of edges)."""

    @abstractmethod
    async def drop(self) -> None: ...


# --------------------------------------------------------------------- factory


class StorageFactory(ABC):
    """Opens the stores of one workspace; one instance per workspace per process."""

    workspace: str

    @abstractmethod
    def kv(self, namespace: str) -> KVStorage: ...

    @abstractmethod
    def doc_status(self) -> DocStatusStorage: ...

    @abstractmethod
    def fragments(self) -> FragmentStorage: ...

    @abstractmethod
    def vectors(self, namespace: str, dim: int) -> VectorStorage: ...

    @abstractmethod
    def graph(self) -> GraphStorage: ...

    @abstractmethod
    async def close(self) -> None:
        """Release files, connections and threads; closing twice is harmless."""


# ------------------------------------------------- argument checks and rankings shared by adapters

DOC_SORT_FIELDS = frozenset({"created_at", "updated_at", "id", "file_path"})
SORT_DIRECTIONS = frozenset({"asc", "desc"})
_EXACT_SCORE, _PREFIX_SCORE, _CONTAINS_BASE, _WORD_BOUNDARY_BONUS = 1000, 500, 100, 50


def check_page_args(page: int, page_size: int, sort_field: str, sort_direction: str) -> None:
    """ValueError for arguments :meth:`DocStatusStorage.page` refuses."""
    if page < 1 or page_size < 1:
        raise ValueError(f"page and page_size must be >= 1, got {page} and {page_size}")
    if sort_field not in DOC_SORT_FIELDS:
        raise ValueError(
            f"sort_field must be one of {sorted(DOC_SORT_FIELDS)}, got {sort_field!r}"
        )
    if sort_direction not in SORT_DIRECTIONS:
        raise ValueError(f"sort_direction must be asc or desc, got {sort_direction!r}")


DIM_HINT = "EMBEDDING_DIM must match the vectors already stored"


def check_dim(namespace: str, dim: int, got: int) -> None:
    """StorageError unless vectors of size ``got`` fit a ``dim``-dimensional namespace."""
    if got != dim:
        raise StorageError(
            f"{namespace}: expected {dim}-dimensional vectors, got {got}; {DIM_HINT}"
        )


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32; all-zero rows stay zero (never NaN).

    Both vector adapters store and query unit vectors, so inner product is cosine.
    """
    import numpy as np
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def upsert_matrix(namespace: str, dim: int, count: int, vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as a ``count`` x ``dim`` array for :meth:`VectorStorage.upsert`.

    StorageError when the shape is wrong."""
    import numpy as np
    matrix = np.asarray(vectors)
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise StorageError(
            f"{namespace}: expected {count} vectors for {count} items, "
            f"got an array of shape {matrix.shape}"
        )
    check_dim(namespace, dim, matrix.shape[1])
    return matrix


def unit_rows(
    items: Sequence[dict[str, Any]], matrix: np.ndarray
) -> tuple[dict[str, int], np.ndarray]:
    """``{id: position}`` of the last item of each id, and those items' unit float32 vectors.

    ValueError for an item without a string id; StorageError for NaN or infinite values.
    """
    import numpy as np
    last: dict[str, int] = {}
    for position, item in enumerate(items):
        vector_id = item.get("id")
        if not isinstance(vector_id, str) or not vector_id:
            raise ValueError(f"vector item without a string id: {item!r}")
        last[vector_id] = position
    chosen = np.asarray(matrix, dtype=np.float32)[list(last.values())]
    if not np.isfinite(chosen).all():
        raise StorageError("vectors contain NaN or infinite values")
    return last, normalise(chosen)


class LevelWalk:
    """The bookkeeping of :meth:`GraphStorage.subgraph`'s breadth-first walk.

    Each level adds the unseen neighbours of the last one, best (highest degree, then name)
    first, until ``max_nodes`` are selected; a level that does not fit is cut and the
    result is truncated. A backend ranks the levels, this class decides what is kept:

    >>> walk = LevelWalk("a", max_nodes=3)
    >>> for frontier, limit in walk.levels(max_depth=2):
    ...     walk.add({"a": ["b", "c", "d"]}[frontier[0]][:limit])
    >>> walk.selected, walk.truncated
    (['a', 'b', 'c'], True)
    """

    def __init__(self, start: str, max_nodes: int) -> None:
        self.selected = [start]
        self.seen = {start}
        self.truncated = False
        self._max_nodes = max_nodes
        self._frontier = [start]

    def levels(self, max_depth: int) -> Iterator[tuple[list[str], int]]:
        """``(frontier, limit)`` per level: rank at most ``limit`` unseen neighbours of
        ``frontier`` and pass them to :meth:`add`."""
        for _ in range(max_depth):
            if self.truncated or not self._frontier:
                return
            yield self._frontier, self._max_nodes - len(self.selected) + 1

    def add(self, ranked: Sequence[str]) -> None:
        """Keep the best of one level's new nodes ``ranked``, best first."""
        room = self._max_nodes - len(self.selected)
        self._frontier = list(ranked[:room])
        self.selected.extend(self._frontier)
        self.seen.update(self._frontier)
        self.truncated = len(ranked) > room


def check_subgraph_args(max_depth: int, max_nodes: int) -> None:
    """ValueError for arguments :meth:`GraphStorage.subgraph` refuses."""
    if max_depth < 0 or max_nodes < 1:
        raise ValueError(f"need max_depth >= 0 and max_nodes >= 1, got {max_depth}, {max_nodes}")


def label_score(name: str, needle: str) -> int:
    """Relevance of ``name`` for the lower-cased, stripped query ``needle``."""
    lowered = name.lower()
    if lowered == needle:
        return _EXACT_SCORE
    if lowered.startswith(needle):
        return _PREFIX_SCORE
    score = _CONTAINS_BASE - len(name)
    if f" {needle}" in lowered or f"_{needle}" in lowered:
        score += _WORD_BOUNDARY_BONUS
    return score


def rank_labels(names: Sequence[str], needle: str, limit: int) -> list[str]:
    """The ``limit`` best ``names`` for ``needle`` (label search order: score, then name)."""
    return sorted(names, key=lambda name: (-label_score(name, needle), name))[:limit]


def sorted_pair(a: str, b: str) -> tuple[str, str]:
    """The canonical (undirected) key of an edge."""
    return (a, b) if a <= b else (b, a)
