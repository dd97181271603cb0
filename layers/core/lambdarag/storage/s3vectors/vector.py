"""Cosine top-k on Amazon S3 Vectors: one vector index per workspace and namespace.

Layout. One vector bucket per stack holds an index per (workspace, namespace), named
``<prefix>-<readable part>-<16 hex of SHA-256(workspace, namespace)>`` (63 characters at
most, ``[a-z0-9.-]``): isolation is structural (no filter to forget), a query scans only
its own workspace's vectors (S3 Vectors bills queries by the size of the index they
search), ``drop`` is one DeleteIndex, and every workspace may use its own dimension.

Vectors. The key is the SHA-256 of the vector id (ids are opaque strings of any length).
Vectors are stored unit-length with the ``cosine`` metric, whose distance is ``1 - cos``,
so ``score = 1 - distance`` and LightRAG's cosine threshold is applied here (strictly
greater). Cosine indexes refuse zero vectors, which the contract stores with score 0: a
zero vector is stored as a fixed unit vector flagged ``z``; hits of it score 0, and a
query whose top-k they crowd is asked again for more (rare: embeddings are never zero).

Metadata. Each vector carries ``m``, the item's JSON (declared non-filterable when the
index is made, so it may use the 40 KB per-vector budget), ``d``, the ``full_doc_id``
(filterable, 2 KB budget, for the ``doc_id`` filter) and the ``z`` flag. An item whose JSON
does not fit goes whole to the ``overflow`` KV store (the workspace's state store, when
the factory gives one) and its vector carries only ``o``; without one it is refused.

Limits (S3 User Guide, "Limitations and restrictions"): PutVectors and DeleteVectors take
500 vectors, GetVectors 100 keys, QueryVectors a top-k of at most 100 (larger ``top_k``
is cut to 100), requests at most 20 MiB. Calls are synchronous boto3 calls in worker
threads, at most ``concurrency`` at a time; botocore's adaptive mode retries throttling
(TooManyRequestsException, 429) and 5xx; what still fails becomes StoreThrottledError or
StoreUnavailableError.

Indexes are made on first upsert, or ahead by :meth:`ensure` (``lambdarag init-stores``);
"already exists" is success. Reads of a missing index answer empty.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lambdarag.storage.base import (
    DIM_HINT,
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VectorHit,
    VectorStorage,
    check_dim,
    normalise,
    unit_rows,
    upsert_matrix,
)
from lambdarag.storage.s3vectors.settings import S3VectorsSettings
from lambdarag.utils import pack

if TYPE_CHECKING:
    from lambdarag.storage.base import KVStorage

logger = logging.getLogger(__name__)

T = TypeVar("T")
PUT_BATCH, DELETE_BATCH, GET_BATCH, MAX_TOP_K, LIST_PAGE = 500, 500, 100, 100, 1000
MAX_METADATA = 40 * 1024
METADATA_MARGIN = 1024  # room for the d/z/o keys and the service's own accounting
MAX_REQUEST_BYTES = 16 * 1024 * 1024  # of the 20 MiB payload limit, leaving JSON slack
ITEM, DOC, ZERO, OVERFLOW = "m", "d", "z", "o"
_SLUG = re.compile(r"[^a-z0-9]+")

_THROTTLED = ("TooManyRequestsException", "ThrottlingException", "SlowDown")
_UNAVAILABLE = ("ServiceUnavailableException", "InternalServerException",
                "RequestTimeoutException", "AccessDeniedException",
                "ServiceQuotaExceededException", "UnrecognizedClientException")


def index_name(prefix: str, workspace: str, namespace: str) -> str:
    """The index of (workspace, namespace): readable, injective (by its digest), <= 63 chars."""
    digest = hashlib.sha256(f"{workspace}\n{namespace}".encode()).hexdigest()[:16]
    readable = "-".join(part for part in (_SLUG.sub("-", workspace.lower()).strip("-") or "default",
                                          _SLUG.sub("-", namespace.lower()).strip("-")) if part)
    room = 63 - len(prefix) - len(digest) - 2
    return f"{prefix}-{readable[:room].strip('-')}-{digest}"


def vector_key(vector_id: str) -> str:
    return hashlib.sha256(vector_id.encode("utf-8", "surrogatepass")).hexdigest()


def make_client(settings: S3VectorsSettings) -> Any:
    """A boto3 ``s3vectors`` client with adaptive retries (credentials from the default chain)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3vectors",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url or None,
        config=Config(retries={"mode": "adaptive", "total_max_attempts": settings.max_attempts},
                      max_pool_connections=max(10, settings.concurrency * 4)),
    )


def translate(exc: Any, where: str) -> StorageError:
    """A botocore error as the storage error that says what it means."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return StoreUnavailableError(f"S3 Vectors {where} is unreachable: {type(exc).__name__}: {exc}")
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code in _THROTTLED:
        return StoreThrottledError(f"S3 Vectors {where} is throttling requests: {code}: {message}")
    if code in _UNAVAILABLE:
        return StoreUnavailableError(f"S3 Vectors {where}: {code}: {message}")
    return StorageError(f"S3 Vectors request on {where} failed: {code}: {message}")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3VectorsBucket:
    """The client and bucket shared by a workspace's stores; makes the bucket at most once."""

    def __init__(self, settings: S3VectorsSettings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = threading.Lock()
        self._bucket_ready = False
        self.gate = threading.BoundedSemaphore(settings.concurrency)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def call(self, where: str, operation: str, **kwargs: Any) -> Any:
        """One API call (blocking); errors translated, except NotFound/Conflict (re-raised)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with self.gate:
                return getattr(self.client, operation)(vectorBucketName=self.settings.bucket, **kwargs)
        except ClientError as exc:
            if _code(exc) in ("NotFoundException", "ConflictException"):
                raise
            raise translate(exc, where) from exc
        except BotoCoreError as exc:
            raise translate(exc, where) from exc

    def ensure_bucket(self) -> None:
        if self._bucket_ready or not self.settings.create_bucket:
            return
        from botocore.exceptions import ClientError

        try:
            self.call(self.settings.bucket, "create_vector_bucket")
            logger.info("created vector bucket %s", self.settings.bucket)
        except ClientError as exc:  # ConflictException: it exists (or another process made it)
            if _code(exc) != "ConflictException":
                raise translate(exc, self.settings.bucket) from exc
        self._bucket_ready = True

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class S3VectorsStorage(VectorStorage):
    """One vector namespace of one workspace in its own S3 Vectors index.

    Parameters
    ----------
    bucket:
        The shared :class:`S3VectorsBucket` (client, settings, request gate).
    workspace, namespace, dim:
        Which index, and the vector width it holds.
    overflow:
        A KV store for items whose JSON exceeds the per-vector metadata budget.

    Examples
    --------
    >>> store = S3VectorsStorage(bucket, "finance", "chunks", 1024)  # doctest: +SKIP
    >>> await store.query(embedding, 10, doc_id="doc-1")  # doctest: +SKIP
    """

    def __init__(self, bucket: S3VectorsBucket, workspace: str, namespace: str, dim: int,
                 overflow: KVStorage | None = None) -> None:
        self._bucket = bucket
        self.workspace = workspace
        self.namespace = namespace
        self.dim = dim
        self.index = index_name(bucket.settings.index_prefix, workspace, namespace)
        self._overflow = overflow
        self._index_ready = False

    # -- contract ------------------------------------------------------------------

    async def upsert(self, items: Sequence[dict[str, Any]], vectors: np.ndarray) -> None:
        if len(items) == 0:
            return
        matrix = upsert_matrix(self.namespace, self.dim, len(items), vectors)
        records, spilled = self._records(items, matrix)
        if spilled:
            await self._spill(spilled)
        await asyncio.to_thread(self._ensure_index)
        await self._in_parallel([lambda b=batch: self._put(b) for batch in _put_batches(records)])

    async def query(self, vector: np.ndarray, top_k: int, *, threshold: float = 0.0,
                    doc_id: str | None = None) -> list[VectorHit]:
        flat = np.asarray(vector, dtype=np.float32).reshape(-1)
        check_dim(self.namespace, self.dim, flat.shape[0])
        if top_k <= 0:
            return []
        unit = normalise(flat[None, :])[0]
        zero_query = not unit.any()
        if zero_query and threshold >= 0:
            return []  # every cosine with a zero vector is 0
        if zero_query:
            unit = _placeholder(self.dim)
        hits = await asyncio.to_thread(self._query, unit, min(top_k, MAX_TOP_K), doc_id)
        scored = []
        for hit in hits:
            metadata = hit.get("metadata") or {}
            zero = zero_query or bool(metadata.get(ZERO))
            score = 0.0 if zero else max(-1.0, min(1.0, 1.0 - float(hit["distance"])))
            if score > threshold:
                scored.append((score, metadata))
        scored.sort(key=lambda pair: -pair[0])
        items = await self._items([metadata for _, metadata in scored[:top_k]])
        return [{**item, "id": item["id"], "score": score}  # type: ignore[typeddict-item]
                for (score, _), item in zip(scored[:top_k], items, strict=True)]

    async def get_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        found = await self._get(ids, data=False)
        items = await self._items([found[i][1] for i in ids if i in found])
        by_id = {item["id"]: item for item in items}
        return [by_id.get(i) for i in ids]

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (unit-length, float32) vectors of the ids that exist."""
        found = await self._get(ids, data=True)
        vectors = {}
        for vector_id, (data, metadata) in found.items():
            array = np.asarray(data, dtype=np.float32)
            vectors[vector_id] = np.zeros_like(array) if metadata.get(ZERO) else array
        return vectors

    async def delete(self, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return
        keys = [vector_key(i) for i in unique]
        await self._in_parallel([lambda b=keys[s : s + DELETE_BATCH]: self._delete(b)
                                 for s in range(0, len(keys), DELETE_BATCH)])
        if self._overflow is not None:
            await self._overflow.delete(unique)

    async def count(self) -> int:
        return await asyncio.to_thread(self._count)

    async def drop(self) -> None:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self._bucket.call, self.index, "delete_index", indexName=self.index)
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise translate(exc, self.index) from exc
        self._index_ready = False
        if self._overflow is not None:
            await self._overflow.drop()
        logger.info("dropped vector index %s", self.index)

    async def ensure(self) -> None:
        """Create the bucket (when allowed) and the index if missing; check its settings."""
        await asyncio.to_thread(self._ensure_index)

    # -- index ---------------------------------------------------------------------

    def _ensure_index(self) -> None:
        if self._index_ready:
            return
        from botocore.exceptions import ClientError

        self._bucket.ensure_bucket()
        try:
            self._bucket.call(
                self.index, "create_index", indexName=self.index, dataType="float32",
                dimension=self.dim, distanceMetric="cosine",
                metadataConfiguration={"nonFilterableMetadataKeys": [ITEM]},
            )
            logger.info("created vector index %s (dim %d)", self.index, self.dim)
        except ClientError as exc:
            if _code(exc) == "NotFoundException":
                raise StoreUnavailableError(
                    f"vector bucket {self._bucket.settings.bucket} does not exist: deploy it with "
                    "the SAM template (StorageTier=lowcost), or set "
                    "LAMBDARAG_S3VECTORS_CREATE_BUCKET=true"
                ) from exc
            if _code(exc) != "ConflictException":
                raise translate(exc, self.index) from exc
            self._check_index()
        self._index_ready = True

    def _check_index(self) -> None:
        """Refuse an existing index built for another dimension or metric, by setting name."""
        described = self._bucket.call(self.index, "get_index", indexName=self.index)["index"]
        if described["dimension"] != self.dim:
            raise StorageError(
                f"{self.namespace}: the stored vectors have {described['dimension']} dimensions "
                f"but {self.dim} were configured; {DIM_HINT} (or drop the namespace to re-embed)"
            )
        if described["distanceMetric"] != "cosine":
            raise StorageError(f"index {self.index} uses {described['distanceMetric']}, not cosine: "
                               "drop it and re-embed")

    # -- requests (worker threads) -------------------------------------------------

    def _put(self, batch: list[dict[str, Any]]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._bucket.call(self.index, "put_vectors", indexName=self.index, vectors=batch)
        except ClientError as exc:  # the index was dropped meanwhile: make it again, once
            if _code(exc) != "NotFoundException":
                raise translate(exc, self.index) from exc
            self._index_ready = False
            self._ensure_index()
            self._bucket.call(self.index, "put_vectors", indexName=self.index, vectors=batch)

    def _query(self, unit: np.ndarray, k: int, doc_id: str | None) -> list[dict[str, Any]]:
        """The top ``k`` hits; asked again with more room while zero vectors crowd them."""
        wanted = k
        while True:
            request: dict[str, Any] = {"indexName": self.index, "topK": k,
                                       "queryVector": {"float32": unit.tolist()},
                                       "returnDistance": True, "returnMetadata": True}
            if doc_id is not None:
                request["filter"] = {DOC: {"$eq": doc_id}}
            hits = self._optional(lambda r=request: self._bucket.call(  # type: ignore[misc]
                self.index, "query_vectors", **r)["vectors"], [])
            zeros = sum(1 for hit in hits if (hit.get("metadata") or {}).get(ZERO))
            if not zeros or len(hits) < k or k >= MAX_TOP_K or len(hits) - zeros >= wanted:
                return hits
            k = min(MAX_TOP_K, wanted + zeros)

    async def _get(self, ids: Sequence[str], *, data: bool
                   ) -> dict[str, tuple[list[float], dict[str, Any]]]:
        """``{id: (data, metadata)}`` of the ids that exist (GetVectors, 100 keys a call)."""
        by_key = {vector_key(i): i for i in dict.fromkeys(ids)}
        keys = list(by_key)

        def fetch(batch: list[str]) -> list[dict[str, Any]]:
            return self._optional(lambda: self._bucket.call(
                self.index, "get_vectors", indexName=self.index, keys=batch, returnData=data,
                returnMetadata=True)["vectors"], [])

        found: dict[str, tuple[list[float], dict[str, Any]]] = {}
        batches = [keys[s : s + GET_BATCH] for s in range(0, len(keys), GET_BATCH)]
        for vectors in await self._in_parallel([lambda b=b: fetch(b) for b in batches]):
            for vector in vectors:
                found[by_key[vector["key"]]] = ((vector.get("data") or {}).get("float32", []),
                                                vector.get("metadata") or {})
        return found

    def _delete(self, keys: list[str]) -> None:
        self._optional(lambda: self._bucket.call(self.index, "delete_vectors", indexName=self.index,
                                                 keys=keys), None)

    def _count(self) -> int:
        total, token = 0, None
        while True:
            request: dict[str, Any] = {"indexName": self.index, "maxResults": LIST_PAGE}
            if token:
                request["nextToken"] = token
            page = self._optional(lambda r=request: self._bucket.call(  # type: ignore[misc]
                self.index, "list_vectors", **r), None)
            if page is None:
                return 0
            total += len(page["vectors"])
            token = page.get("nextToken")
            if not token:
                return total

    def _optional(self, call: Callable[[], T], missing: T) -> T:
        """``call()``, or ``missing`` when the index (or bucket) does not exist."""
        from botocore.exceptions import ClientError

        try:
            return call()
        except ClientError as exc:
            if _code(exc) == "NotFoundException":
                return missing
            raise translate(exc, self.index) from exc

    async def _in_parallel(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Blocking calls in worker threads; the bucket's gate bounds those in flight."""
        return list(await asyncio.gather(*(asyncio.to_thread(call) for call in calls)))

    # -- conversion ----------------------------------------------------------------

    def _records(self, items: Sequence[dict[str, Any]], matrix: np.ndarray
                 ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """PutVectors records (last of a repeated id wins) and the items that overflow."""
        last, units = unit_rows(items, matrix)
        records, spilled = [], {}
        for (vector_id, position), unit in zip(last.items(), units, strict=True):
            item = items[position]
            metadata = self._metadata(vector_id, item, spilled)
            if not unit.any():
                metadata[ZERO] = True
                unit = _placeholder(self.dim)
            records.append({"key": vector_key(vector_id), "data": {"float32": unit.tolist()},
                            "metadata": metadata})
        return records, spilled

    def _metadata(self, vector_id: str, item: dict[str, Any],
                  spilled: dict[str, dict[str, Any]]) -> dict[str, Any]:
        try:
            text = json.dumps(item, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StorageError(f"vector {vector_id!r}: metadata is not JSON: {exc}") from exc
        metadata: dict[str, Any] = {}
        doc_id = item.get("full_doc_id")
        if isinstance(doc_id, str):
            metadata[DOC] = doc_id
        if len(text.encode("utf-8")) <= MAX_METADATA - METADATA_MARGIN - len(doc_id or ""):
            metadata[ITEM] = text
        elif self._overflow is not None:
            spilled[vector_id] = dict(item)
            metadata[ITEM] = json.dumps({"id": vector_id}, ensure_ascii=False)
            metadata[OVERFLOW] = True
        else:
            raise StorageError(
                f"vector {vector_id!r}: its metadata ({len(text)} characters) exceeds S3 Vectors' "
                f"{MAX_METADATA // 1024} KB per vector, and no overflow store is configured"
            )
        return metadata

    async def _spill(self, items: dict[str, dict[str, Any]]) -> None:
        assert self._overflow is not None
        await self._overflow.upsert(items)

    async def _items(self, metadatas: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The stored items of hits (those that overflowed read back from the KV store)."""
        items = [json.loads(metadata[ITEM]) for metadata in metadatas]
        spilled = [i for i, metadata in enumerate(metadatas) if metadata.get(OVERFLOW)]
        if spilled and self._overflow is not None:
            values = await self._overflow.get_by_ids([items[i]["id"] for i in spilled])
            for i, value in zip(spilled, values, strict=True):
                if value is not None:
                    items[i] = value
        return items


def _placeholder(dim: int) -> np.ndarray:
    """The unit vector that stands in for a zero vector (cosine indexes refuse zeros)."""
    vector = np.zeros(dim, dtype=np.float32)
    vector[0] = 1.0
    return vector


def _put_batches(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Records in PutVectors requests of at most 500 vectors and MAX_REQUEST_BYTES."""
    return pack(records, _record_size, max_count=PUT_BATCH, max_size=MAX_REQUEST_BYTES)


def _record_size(record: dict[str, Any]) -> int:
    """An upper bound of ``record``'s JSON size: a float32 is at most ~16 characters, and
    metadata is counted as written."""
    return 16 * len(record["data"]["float32"]) + sum(
        len(str(value).encode("utf-8")) + 8 for value in record["metadata"].values())


def delete_indexes(bucket: S3VectorsBucket, prefix: str) -> list[str]:
    """Delete every index of the bucket whose name starts with ``prefix-``; returns them."""
    from botocore.exceptions import ClientError

    names: list[str] = []
    token = None
    while True:
        request: dict[str, Any] = {"prefix": f"{prefix}-"}
        if token:
            request["nextToken"] = token
        try:
            page = bucket.call(prefix, "list_indexes", **request)
        except ClientError as exc:
            if _code(exc) == "NotFoundException":
                return names
            raise translate(exc, prefix) from exc
        names += [index["indexName"] for index in page.get("indexes", [])]
        token = page.get("nextToken")
        if not token:
            break
    for name in names:
        try:
            bucket.call(name, "delete_index", indexName=name)
        except ClientError as exc:
            if _code(exc) != "NotFoundException":
                raise translate(exc, name) from exc
    return names
