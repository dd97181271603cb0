"""Cosine top-k over an OpenSearch k-NN index: one index per workspace and namespace.

Layout. Each (workspace, vector namespace) pair gets its own index,
``<prefix>-<workspace>-<namespace>``, rather than one shared index with a workspace
keyword field and a filter on every query:

- Isolation is structural: a query cannot leak another tenant's vectors through a
  forgotten filter, and efficient k-NN filters stay free for ``doc_id``.
- ``drop`` (and dropping a tenant) deletes an index: instant, with no ``delete_by_query``
  tombstones left for merges to purge.
- Each index carries its own ``dimension``, so workspaces may use different embedding
  models.
- Cost: every index is at least one shard (three per workspace). A self-managed node
  allows 1,000 shards by default (``cluster.max_shards_per_node``), so a few hundred
  workspaces per data node. Serverless caps indexes per collection, so a deployment with
  many tenants should use one collection per tenant group.

Index names must be lowercase; workspace names are ``[A-Za-z0-9_]``. A part that is not
already lowercase ``[a-z0-9_]`` keeps its lowercased, sanitised form and gains ``.`` plus 8 hex
digits of its SHA-256 (``Finance`` becomes ``finance.<hash>``), so ``Finance`` and ``finance``
get different indices. ``.`` cannot occur in a workspace name, so there is no ambiguity.
The default workspace ``""`` gives ``lambdarag--chunks``.

Documents. ``_id`` is the SHA-256 of the vector id, because ids are opaque strings of any length
(OpenSearch caps ``_id`` at 512 bytes). The body holds ``id`` (keyword), ``doc_id`` (keyword, from
the ``full_doc_id`` metadata field, the only filtered field), ``vector`` (``knn_vector``) and
``meta``, the item as given. ``meta`` is an object with ``enabled: false``: stored in ``_source``,
never indexed, so any metadata keys are fine. The mapping is ``dynamic: strict``.

Scores. Vectors are normalised (float32) before they are stored, as in the embedded store,
so ``innerproduct`` (the default space) *is* cosine similarity. This space was chosen over
``cosinesimil`` because OpenSearch's ``cosinesimil`` rejects zero vectors, both stored and
queried ("zero vector is not supported"), and the contract stores them with score 0.
OpenSearch maps an inner product ``d`` to ``1 + d`` when ``d >= 0`` and to ``1 / (1 - d)``
otherwise; ``cosinesimil`` maps a cosine ``c`` to ``(1 + c) / 2``. :func:`cosine_from_score`
inverts both, and ``threshold`` is then applied client side (strictly greater).

Writes. Bulk requests hold at most ``bulk_docs`` documents and ``bulk_bytes`` bytes, with
at most ``bulk_concurrency`` of them in flight. Items rejected with 429 are retried with
backoff. Each request is sent with the ``refresh`` setting (``true`` by default) so the next
search sees the write (see OpenSearchSettings). ``get_by_ids`` and ``get_vectors`` use
``mget``, which is real-time either way.

Indices. An index is created on first upsert (or ahead, by :meth:`ensure`: the
``lambdarag init-stores`` deploy step). Many processes may race to create it: "already
exists" counts as success, and a store that did not create the index itself waits until its
primary shard is active and then checks the stored mapping against the settings
(dimension, space, engine), so drift is reported by the setting's name. Reads of an index
that does not exist yet answer empty. Each upsert checks that the index exists, because
another process may have dropped it: a bulk write to a missing index would auto-create it
with a dynamic mapping and no ``knn_vector``. A drop that lands between that check and the
bulk request can still do this (the window is one round trip).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambdarag.retry import Backoff, retrying
from lambdarag.storage.base import (
    DIM_HINT,
    CheckedVectorStorage,
    StorageError,
    StoreUnavailableError,
    VectorHit,
    normalise,
    unit_rows,
)
from lambdarag.storage.opensearch.client import (
    OpenSearchSettings,
    error_type,
    make_client,
    translate,
)
from lambdarag.utils import pack

if TYPE_CHECKING:
    import numpy as np
    from opensearchpy import AsyncOpenSearch

logger = logging.getLogger(__name__)

MAX_K = 10_000  # the k-NN plugin's limit on k (and index.max_result_window)
_PLAIN = re.compile(r"[a-z0-9_]*")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_BULK_RETRIES = 4
# Re-sending the documents a bulk request had throttled (429): first wait at most 0.2 s.
_BULK_BACKOFF = Backoff(base=0.2, cap=5.0)


class _Throttled(Exception):  # noqa: N818 - a signal to the retry policy, never raised out
    """Some documents of a bulk request came back 429; they are to be sent again."""


def index_name(prefix: str, workspace: str, namespace: str) -> str:
    """``<prefix>-<workspace>-<namespace>``, lowercase and collision-free (module docstring)."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"OpenSearch index prefix {prefix!r} must match {_PREFIX.pattern}")
    name = f"{prefix}-{_part(workspace)}-{_part(namespace)}"
    if len(name.encode()) > 255:
        raise ValueError(f"OpenSearch index name {name!r} is longer than 255 bytes")
    return name


def _part(name: str) -> str:
    if _PLAIN.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^a-z0-9_]', '_', name.lower())}.{digest}"


def doc_key(vector_id: str) -> str:
    """The ``_id`` of a vector id (ids may be longer than ``_id``'s 512 bytes)."""
    return hashlib.sha256(vector_id.encode()).hexdigest()


def cosine_from_score(score: float, space_type: str) -> float:
    """Invert OpenSearch's k-NN score back to the cosine of unit vectors."""
    if space_type == "cosinesimil":
        cosine = 2.0 * score - 1.0
    elif score >= 1.0:
        cosine = score - 1.0
    else:
        cosine = 1.0 - 1.0 / score
    return min(1.0, max(-1.0, cosine))


@dataclass(frozen=True)
class _Row:
    vector_id: str
    item: dict[str, Any]
    vector: np.ndarray


class OpenSearchVectorStorage(CheckedVectorStorage):
    """One vector namespace of one workspace in its own k-NN index.

    Parameters
    ----------
    client:
        An ``AsyncOpenSearch`` client; the caller owns it (see :class:`OpenSearchVectors`).
    settings:
        Index layout, k-NN method, bulk bounds and refresh mode.
    workspace, namespace, dim:
        Which index, and the vector width it holds.

    Examples
    --------
    >>> store = OpenSearchVectorStorage(client, settings, "finance", "chunks", 1024)  # doctest: +SKIP
    >>> await store.query(embedding, 10, doc_id="doc-1")  # doctest: +SKIP
    """

    def __init__(
        self,
        client: AsyncOpenSearch,
        settings: OpenSearchSettings,
        workspace: str,
        namespace: str,
        dim: int,
    ) -> None:
        self._client = client
        self._settings = settings
        self.workspace = workspace
        self.namespace = namespace
        self.dim = dim
        self.index = index_name(settings.index_prefix, workspace, namespace)
        self._verified = False

    # -- contract ------------------------------------------------------------

    async def _upsert_rows(self, items: Sequence[dict[str, Any]], matrix: np.ndarray) -> None:
        rows = self._rows(items, matrix)
        await self._ensure_index()
        lines = [self._index_lines(row) for row in rows]
        await self._bulk(lines)

    async def _search(
        self, flat: np.ndarray, top_k: int, threshold: float, doc_id: str | None
    ) -> list[VectorHit]:
        unit = normalise(flat[None, :])[0]
        if self._settings.space_type == "cosinesimil" and not unit.any():
            return []  # cosinesimil refuses a zero query; every cosine with it is 0
        k = min(top_k, MAX_K)
        knn: dict[str, Any] = {"vector": unit.tolist(), "k": k}
        if self._settings.ef_search > 0:
            knn["method_parameters"] = {"ef_search": max(k, self._settings.ef_search)}
        if doc_id is not None:
            knn["filter"] = {"term": {"doc_id": doc_id}}
        body = {
            "size": k,
            "_source": ["id", "meta"],
            "query": {"knn": {"vector": knn}},
        }
        response = await self._read("search", self._client.search, index=self.index, body=body)
        if response is None:
            return []
        hits: list[VectorHit] = []
        for hit in response["hits"]["hits"]:
            score = cosine_from_score(float(hit["_score"]), self._settings.space_type)
            if score > threshold:
                source = hit["_source"]
                hits.append({**source["meta"], "id": source["id"], "score": score})
        return hits

    async def get_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        found = await self._mget(ids, ["id", "meta"])
        return [found[i]["meta"] if i in found else None for i in ids]

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (unit-length, float32) vectors of the ids that exist."""
        found = await self._mget(ids, ["id", "vector"])
        import numpy as np  # only when vectors are handled: a cold Lambda need not load it
        return {i: np.asarray(doc["vector"], dtype=np.float32) for i, doc in found.items()}

    async def delete(self, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        if not unique or not await self._exists():
            return  # a bulk delete could auto-create a missing index
        action = {"delete": {"_index": self.index}}
        lines = []
        for vector_id in unique:
            action["delete"]["_id"] = doc_key(vector_id)
            lines.append(json.dumps(action) + "\n")
        await self._bulk(lines)

    async def delete_by_doc(self, doc_id: str) -> int:
        """Delete every vector whose ``full_doc_id`` is ``doc_id``; returns how many."""
        params: dict[str, Any] = {"conflicts": "proceed"}
        if self._settings.refresh != "false" and self._settings.aws_service != "aoss":
            params["refresh"] = "true"  # delete_by_query knows no wait_for
        response = await self._call(
            "delete_by_query",
            self._client.delete_by_query,
            index=self.index,
            body={"query": {"term": {"doc_id": doc_id}}},
            params=params,
        )
        return int(response["deleted"]) if response else 0

    async def count(self) -> int:
        response = await self._read("count", self._client.count, index=self.index)
        return int(response["count"]) if response else 0

    async def drop(self) -> None:
        await self._call(
            "drop",
            self._client.indices.delete,
            index=self.index,
            params={"ignore_unavailable": "true"},
        )
        self._verified = False
        logger.info("dropped vector index %s", self.index)

    # -- index management ------------------------------------------------------

    def index_body(self) -> dict[str, Any]:
        """Settings and mapping of a new index of this store."""
        s = self._settings
        index_settings: dict[str, Any] = {"knn": True}
        if s.aws_service != "aoss":  # Serverless manages shards and replicas itself
            index_settings |= {"number_of_shards": s.shards, "number_of_replicas": s.replicas}
        return {
            "settings": {"index": index_settings},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "id": {"type": "keyword"},
                    "doc_id": {"type": "keyword"},
                    "vector": {
                        "type": "knn_vector",
                        "dimension": self.dim,
                        "method": {
                            "name": "hnsw",
                            "engine": s.engine,
                            "space_type": s.space_type,
                            "parameters": {"m": s.m, "ef_construction": s.ef_construction},
                        },
                    },
                    "meta": {"type": "object", "enabled": False},
                },
            },
        }

    async def ensure(self) -> None:
        """Create the index if it is missing, wait until it is usable, check its settings.

        Safe to call from many processes at once: the losers of the creation race wait for
        the winner's index instead of failing (module docstring, "Indices").
        """
        await self._ensure_index()

    async def _exists(self) -> bool:
        return bool(await self._call("exists", self._client.indices.exists, index=self.index))

    async def _ensure_index(self) -> None:
        if not await self._exists() and await self._create_index():
            return
        if not self._verified:
            await self._wait_usable()
            await self._verify_mapping()

    async def _create_index(self) -> bool:
        """Create the index; False when another writer created it first (not an error)."""
        from opensearchpy.exceptions import RequestError

        try:
            # Returns once the primary shard is active (wait_for_active_shards defaults to 1).
            await self._client.indices.create(index=self.index, body=self.index_body())
        except RequestError as exc:
            if error_type(exc) != "resource_already_exists_exception":
                raise translate(exc, self._settings.endpoint, "create index") from exc
            logger.debug("vector index %s was created by a concurrent writer", self.index)
            return False
        except Exception as exc:
            raise translate(exc, self._settings.endpoint, "create index") from exc
        logger.info("created vector index %s (dim %d)", self.index, self.dim)
        self._verified = True
        return True

    async def _wait_usable(self) -> None:
        """Wait until the index's primary shard is active (a new index may not be yet).

        Serverless collections have no cluster health API and manage shards themselves.
        """
        if self._settings.aws_service == "aoss":
            return
        health = await self._call(
            "cluster health",
            self._client.cluster.health,
            index=self.index,
            # yellow alone passes while a new index has no shard yet; request_timeout is the
            # client's, and with it given, timeout goes to the server
            params={"wait_for_status": "yellow", "wait_for_active_shards": str(self._settings.shards),
                    "timeout": f"{int(self._settings.timeout)}s",
                    "request_timeout": self._settings.timeout + 10},
        )
        if health is not None and health.get("timed_out"):
            raise StoreUnavailableError(
                f"OpenSearch index {self.index} at {self._settings.endpoint} has no active "
                f"primary shard after {int(self._settings.timeout)} s (status "
                f"{health.get('status')}); check the cluster's health"
            )

    async def _verify_mapping(self) -> None:
        """Refuse an index whose vector field differs from the settings, naming the setting."""
        mapping = await self._call(
            "get_mapping", self._client.indices.get_mapping, index=self.index
        )
        field = (mapping or {}).get(self.index, {}).get("mappings", {}).get("properties", {})
        stored = field.get("vector", {})
        if stored.get("type") != "knn_vector":
            raise StorageError(
                f"index {self.index} has no knn_vector field 'vector' (was it auto-created by "
                "a write after a drop?); delete the index and re-embed"
            )
        if stored.get("dimension") != self.dim:
            raise StorageError(
                f"{self.namespace}: the stored vectors have {stored.get('dimension')} dimensions "
                f"but {self.dim} were configured; {DIM_HINT} (or drop the namespace to re-embed)"
            )
        method = stored.get("method") or {}
        for key, setting, wanted in (
            ("space_type", "LAMBDARAG_OPENSEARCH_SPACE", self._settings.space_type),
            ("engine", "LAMBDARAG_OPENSEARCH_ENGINE", self._settings.engine),
        ):
            if key in method and method[key] != wanted:
                raise StorageError(
                    f"index {self.index} was built with {key} {method[key]!r} but {setting} is "
                    f"{wanted!r}: set {setting}={method[key]} or drop the index and re-embed"
                )
        self._verified = True

    # -- requests --------------------------------------------------------------

    async def _call(self, action: str, method: Any, **kwargs: Any) -> Any:
        """``method(**kwargs)``; None when the index is missing; other errors translated."""
        from opensearchpy.exceptions import NotFoundError

        try:
            return await method(**kwargs)
        except NotFoundError:
            return None
        except Exception as exc:
            raise translate(exc, self._settings.endpoint, f"{action} on {self.index}") from exc

    async def _read(self, action: str, method: Any, **kwargs: Any) -> Any:
        """A read that waits out an index another writer has just created.

        Such an index exists before its primary shard is active, and reads of it fail
        with 503 meanwhile. Nothing can be in it yet (writers wait for the shard), so the
        read waits until the index is usable and is sent again; a 503 that outlasts that
        wait is a real outage, answered as one.
        """
        from opensearchpy.exceptions import TransportError

        try:
            return await self._call(action, method, **kwargs)
        except StoreUnavailableError as exc:
            cause = exc.__cause__
            starting = isinstance(cause, TransportError) and cause.status_code == 503
            if not starting or self._settings.aws_service == "aoss":
                raise
        await self._wait_usable()
        return await self._call(action, method, **kwargs)

    async def _mget(self, ids: Sequence[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), self._settings.bulk_docs):
            batch = unique[start : start + self._settings.bulk_docs]
            response = await self._read(
                "mget",
                self._client.mget,
                index=self.index,
                body={"ids": [doc_key(i) for i in batch]},
                params={"_source_includes": ",".join(fields)},
            )
            for doc in (response or {}).get("docs", []):
                if doc.get("found"):
                    found[doc["_source"]["id"]] = doc["_source"]
        return found

    async def _bulk(self, lines: list[str]) -> None:
        """Send ``lines`` (one NDJSON action each) in bounded, concurrent requests."""
        limit = asyncio.Semaphore(self._settings.bulk_concurrency)

        async def send(batch: list[str]) -> None:
            async with limit:
                await self._bulk_request(batch)

        await asyncio.gather(*(send(batch) for batch in self._batches(lines)))

    def _batches(self, lines: list[str]) -> list[list[str]]:
        return pack(lines, lambda line: len(line.encode()), max_count=self._settings.bulk_docs,
                    max_size=self._settings.bulk_bytes)

    async def _bulk_request(self, batch: list[str]) -> None:
        params: dict[str, Any] = {}
        if self._settings.aws_service != "aoss":
            params["refresh"] = self._settings.refresh
        pending = batch

        async def send() -> None:
            nonlocal pending
            response = await self._call(
                "bulk", self._client.bulk, body="".join(pending), params=params
            )
            if response is None:
                raise StorageError(f"OpenSearch bulk on {self.index}: the index vanished")
            if not response.get("errors"):
                return
            throttled: list[str] = []
            for line, result in zip(pending, response["items"], strict=True):
                outcome = next(iter(result.values()))
                status = int(outcome.get("status", 200))
                if status == 429:
                    throttled.append(line)
                elif "error" in outcome and not (status == 404 and "delete" in result):
                    error = outcome["error"]
                    raise StorageError(
                        f"OpenSearch bulk on {self.index} rejected a document: "
                        f"{error.get('type')}: {error.get('reason')}"
                    )
            if throttled:
                pending = throttled
                raise _Throttled

        try:
            await retrying(retry_on=_Throttled, attempts=_BULK_RETRIES + 1,
                           backoff=_BULK_BACKOFF)(send)
        except _Throttled:
            raise StorageError(
                f"OpenSearch bulk on {self.index}: {len(pending)} documents still throttled "
                f"(429) after {_BULK_RETRIES} retries; lower LAMBDARAG_OPENSEARCH_BULK_CONCURRENCY"
            ) from None

    # -- conversion ------------------------------------------------------------

    def _rows(self, items: Sequence[dict[str, Any]], matrix: np.ndarray) -> list[_Row]:
        """Validated, de-duplicated (last wins) rows with unit float32 vectors."""
        last, units = unit_rows(items, matrix)
        if self._settings.space_type == "cosinesimil" and not units.any(axis=1).all():
            raise StorageError(
                f"{self.index}: space cosinesimil cannot store zero vectors; "
                "use LAMBDARAG_OPENSEARCH_SPACE=innerproduct"
            )
        return [
            _Row(vector_id, items[position], unit)
            for (vector_id, position), unit in zip(last.items(), units, strict=True)
        ]

    def _index_lines(self, row: _Row) -> str:
        action = {"index": {"_index": self.index, "_id": doc_key(row.vector_id)}}
        source: dict[str, Any] = {
            "id": row.vector_id,
            "vector": row.vector.tolist(),
            "meta": row.item,
        }
        doc_id = row.item.get("full_doc_id")
        if isinstance(doc_id, str):
            source["doc_id"] = doc_id
        try:
            body = json.dumps(source, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"vector {row.vector_id!r}: metadata is not JSON: {exc}") from exc
        return f"{json.dumps(action)}\n{body}\n"



class OpenSearchVectors:
    """Makes a workspace's vector stores on one client; plugs into CompositeStorageFactory.

    Examples
    --------
    >>> vectors = open_vectors(settings.adapter_settings["opensearch"], "finance")  # doctest: +SKIP
    >>> CompositeStorageFactory(base, vectors=vectors, closers=[vectors.close])  # doctest: +SKIP
    """

    def __init__(
        self,
        client: AsyncOpenSearch,
        settings: OpenSearchSettings,
        workspace: str,
        *,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.settings = settings
        self.workspace = workspace
        self._owns_client = owns_client

    def __call__(self, namespace: str, dim: int) -> OpenSearchVectorStorage:
        return OpenSearchVectorStorage(self.client, self.settings, self.workspace, namespace, dim)

    async def close(self) -> None:
        """Close the client if this object made it; harmless twice."""
        if self._owns_client:
            self._owns_client = False
            await self.client.close()


def open_vectors(
    settings: OpenSearchSettings,
    workspace: str,
    *,
    client: AsyncOpenSearch | None = None,
) -> OpenSearchVectors:
    """Vector stores of ``workspace`` (``settings`` from config.py's ``OpenSearchEnv``).

    A given ``client`` stays the caller's to close; otherwise one is made and
    :meth:`OpenSearchVectors.close` closes it.
    """
    if client is not None:
        return OpenSearchVectors(client, settings, workspace)
    return OpenSearchVectors(make_client(settings), settings, workspace, owns_client=True)


async def delete_indices(client: AsyncOpenSearch, prefix: str, endpoint: str = "") -> list[str]:
    """Delete every index named ``<prefix>-*`` (all workspaces under a prefix); returns them.

    Names are resolved first and deleted explicitly, so this works where wildcard deletes
    are refused (``action.destructive_requires_name``).
    """
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"OpenSearch index prefix {prefix!r} must match {_PREFIX.pattern}")
    try:
        found = await client.indices.get(
            index=f"{prefix}-*", params={"allow_no_indices": "true", "expand_wildcards": "all"}
        )
        names = sorted(found)
        if names:
            await client.indices.delete(
                index=",".join(names), params={"ignore_unavailable": "true"}
            )
    except Exception as exc:
        raise translate(exc, endpoint or "OpenSearch", f"delete indices {prefix}-*") from exc
    return names
