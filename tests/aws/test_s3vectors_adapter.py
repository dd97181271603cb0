"""S3VectorsStorage beyond the contract suite: limits, retries, overflow, drift, and moto.

The contract suite (``LAMBDARAG_CONTRACT_BACKENDS=s3vectors``) runs the adapter against the
local server in tests/fakes/s3vectors_server.py. Here the same server shows what the
service's limits and errors do to the adapter, and moto's own s3vectors (which lacks
QueryVectors) checks that every other call the adapter makes has the shapes moto expects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lambdarag.storage.base import StorageError, StoreThrottledError, StoreUnavailableError
from lambdarag.storage.embedded import EmbeddedStorageFactory
from lambdarag.storage.s3vectors import (
    S3VectorsBucket,
    S3VectorsSettings,
    S3VectorsStorage,
    delete_indexes,
    index_name,
)
from tests.contract.contract_backends import s3vectors_client
from tests.fakes.s3vectors_server import S3VectorsServer

DIM = 8


@pytest.fixture
def server() -> Iterator[S3VectorsServer]:
    with S3VectorsServer() as running:
        yield running


def bucket_on(server: S3VectorsServer, **overrides: Any) -> S3VectorsBucket:
    settings = S3VectorsSettings(**{"bucket": "lr-test", "endpoint_url": server.url,
                                    "max_attempts": 3, **overrides})
    return S3VectorsBucket(settings, s3vectors_client(server.url, attempts=settings.max_attempts))


def vectors(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)


async def test_batches_follow_the_service_limits(server: S3VectorsServer) -> None:
    # GIVEN 1,200 vectors (PutVectors takes 500, GetVectors 100, DeleteVectors 500)
    store = S3VectorsStorage(bucket_on(server), "ws", "chunks", DIM)
    items = [{"id": f"v{i}", "full_doc_id": "d"} for i in range(1200)]

    # WHEN they are upserted, read back, counted and deleted
    await store.upsert(items, vectors(1200))
    found = await store.get_by_ids([f"v{i}" for i in range(250)])
    assert await store.count() == 1200
    await store.delete([f"v{i}" for i in range(600)])

    # THEN every request stayed within the limits, in the fewest requests
    assert server.counters["requests:PutVectors"] == 3
    assert server.counters["requests:GetVectors"] == 3
    assert server.counters["requests:ListVectors"] == 2
    assert server.counters["requests:DeleteVectors"] == 2
    assert found == items[:250]
    assert await store.count() == 600


async def test_top_k_above_the_service_limit_is_cut_to_100(server: S3VectorsServer) -> None:
    store = S3VectorsStorage(bucket_on(server), "ws", "chunks", DIM)
    await store.upsert([{"id": f"v{i}"} for i in range(150)], vectors(150))

    hits = await store.query(vectors(1, seed=9)[0], 1000, threshold=-1.0)

    assert len(hits) == 100
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)


async def test_throttling_is_retried_then_reported_as_throttled(server: S3VectorsServer) -> None:
    store = S3VectorsStorage(bucket_on(server), "ws", "chunks", DIM)
    await store.upsert([{"id": "a"}], vectors(1))

    # WHEN two requests are throttled, botocore's retries absorb them
    server.fail_next(2)
    assert [hit["id"] for hit in await store.query(vectors(1)[0], 1)] == ["a"]

    # AND WHEN throttling outlasts the attempts, the caller sees StoreThrottledError
    server.fail_next(3)
    with pytest.raises(StoreThrottledError, match="TooManyRequestsException"):
        await store.query(vectors(1)[0], 1)
    server.fail_next(3, code="ServiceUnavailableException")
    with pytest.raises(StoreUnavailableError, match="ServiceUnavailable"):
        await store.get_by_ids(["a"])


async def test_large_items_overflow_to_the_kv_store(server: S3VectorsServer, tmp_path: Any) -> None:
    # GIVEN an item whose JSON exceeds the 40 KB of metadata a vector may carry
    factory = EmbeddedStorageFactory(tmp_path, "ws")
    overflow = factory.kv("vector_overflow_chunks")
    store = S3VectorsStorage(bucket_on(server), "ws", "chunks", DIM, overflow=overflow)
    big = {"id": "big", "content": "x" * 50_000, "full_doc_id": "doc"}
    small = {"id": "small", "content": "y", "full_doc_id": "doc"}

    # WHEN it is upserted and read back
    await store.upsert([big, small], vectors(2))

    # THEN the vector is in S3 Vectors, the item in the KV store, and reads merge them
    assert await overflow.keys() == ["big"]
    assert await store.get_by_ids(["big", "small"]) == [big, small]
    (hit,) = await store.query(vectors(2)[0], 1, doc_id="doc")
    assert (hit["id"], hit["content"]) == ("big", big["content"])  # type: ignore[typeddict-item]
    await store.delete(["big"])
    assert await overflow.keys() == []
    await factory.close()


async def test_large_items_without_an_overflow_store_are_refused(server: S3VectorsServer) -> None:
    store = S3VectorsStorage(bucket_on(server), "ws", "chunks", DIM)
    with pytest.raises(StorageError, match="40 KB"):
        await store.upsert([{"id": "big", "content": "x" * 50_000}], vectors(1))


async def test_an_index_of_another_dimension_is_refused_by_setting_name(
    server: S3VectorsServer,
) -> None:
    bucket = bucket_on(server)
    await S3VectorsStorage(bucket, "ws", "chunks", DIM).ensure()

    with pytest.raises(StorageError, match="EMBEDDING_DIM"):
        await S3VectorsStorage(bucket, "ws", "chunks", DIM * 2).ensure()


async def test_a_missing_bucket_the_stack_should_own_is_unavailable(
    server: S3VectorsServer,
) -> None:
    store = S3VectorsStorage(bucket_on(server, create_bucket=False), "ws", "chunks", DIM)

    assert await store.query(vectors(1)[0], 3) == []  # reads of nothing answer empty
    with pytest.raises(StoreUnavailableError, match="LAMBDARAG_S3VECTORS_CREATE_BUCKET"):
        await store.upsert([{"id": "a"}], vectors(1))


def test_index_names_are_valid_and_distinct_for_every_workspace() -> None:
    names = {index_name("lr", ws, ns) for ws in ("", "a", "A", "x" * 64, "Finance_2025", "a_b")
             for ns in ("chunks", "entities", "relationships")}
    assert len(names) == 18
    for name in names:
        assert 3 <= len(name) <= 63
        assert name[0].isalnum() and name[-1].isalnum()
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-.")


async def test_delete_indexes_removes_only_its_prefix(server: S3VectorsServer) -> None:
    mine, other = bucket_on(server, index_prefix="mine"), bucket_on(server, index_prefix="other")
    await S3VectorsStorage(mine, "ws", "chunks", DIM).ensure()
    await S3VectorsStorage(other, "ws", "chunks", DIM).ensure()

    assert delete_indexes(mine, "mine") == [index_name("mine", "ws", "chunks")]
    assert [i["indexName"] for i in other.client.list_indexes(vectorBucketName="lr-test")["indexes"]] \
        == [index_name("other", "ws", "chunks")]


# -- moto's s3vectors: every call but QueryVectors ------------------------------------------


async def test_the_calls_moto_implements_have_the_shapes_moto_expects() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3vectors", region_name="us-east-1")
        settings = S3VectorsSettings(bucket=f"lr-{uuid.uuid4().hex[:8]}")
        store = S3VectorsStorage(S3VectorsBucket(settings, client), "ws", "chunks", DIM)
        items = [{"id": f"v{i}", "full_doc_id": f"doc-{i % 2}", "content": f"text {i}"}
                 for i in range(5)]
        data = vectors(5)

        await store.ensure()
        await store.upsert(items, data)
        await store.upsert([{"id": "zero"}], np.zeros((1, DIM)))

        assert await store.get_by_ids(["v3", "missing", "v0"]) == [items[3], None, items[0]]
        found = await store.get_vectors(["v1", "zero"])
        np.testing.assert_allclose(found["v1"], data[1] / np.linalg.norm(data[1]), atol=1e-6)
        assert not found["zero"].any()
        assert await store.count() == 6
        await store.delete(["v0", "zero"])
        assert await store.count() == 4
        await store.drop()
        assert await store.count() == 0
