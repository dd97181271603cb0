"""VectorStorage contract."""

from __future__ import annotations

import numpy as np
import pytest

from lambdarag.storage.base import StorageError, StorageFactory
from tests.contract.contract_backends import WORKSPACE, MakeFactory

DIM = 32


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def random_items(count: int, seed: int = 0) -> tuple[list[dict[str, object]], np.ndarray]:
    rng = np.random.default_rng(seed)
    items: list[dict[str, object]] = [
        {"id": f"v{i}", "content": f"text {i}", "full_doc_id": f"doc-{i % 5}"} for i in range(count)
    ]
    return items, rng.normal(size=(count, DIM)).astype(np.float32)


async def test_query_matches_a_brute_force_reference(factory: StorageFactory) -> None:
    # GIVEN 500 random vectors (stored in several batches)
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(500)
    for start in range(0, 500, 128):
        await store.upsert(items[start : start + 128], vectors[start : start + 128])
    rng = np.random.default_rng(1)

    for query in rng.normal(size=(5, DIM)):
        # WHEN querying the top 10
        hits = await store.query(query, 10, threshold=-1.0)

        # THEN ids and cosine scores equal the numpy reference, best first
        scores = unit(vectors) @ unit(query)
        best = np.argsort(-scores)[:10]
        assert [hit["id"] for hit in hits] == [f"v{i}" for i in best]
        np.testing.assert_allclose([hit["score"] for hit in hits], scores[best], atol=1e-5)


async def test_similarities_score_the_named_vectors_only(factory: StorageFactory) -> None:
    # GIVEN 50 stored vectors, one of them deleted
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(50)
    await store.upsert(items, vectors)
    await store.delete(["v7"])
    query = np.random.default_rng(3).normal(size=DIM)

    # WHEN scoring a few ids against a query, with a deleted and an unknown one
    scores = await store.similarities(["v3", "v7", "v12", "nope", "v3"], query)

    # THEN each live id gets its cosine with the query; the others are left out
    assert sorted(scores) == ["v12", "v3"]
    expected = unit(vectors) @ unit(query)
    np.testing.assert_allclose([scores["v3"], scores["v12"]], expected[[3, 12]], atol=1e-5)
    assert await store.similarities([], query) == {}


async def test_preload_changes_no_answer(factory_maker: MakeFactory) -> None:
    # GIVEN a store preloaded while empty, then written by another factory
    reader = factory_maker(WORKSPACE).vectors("chunks", DIM)
    await reader.preload()
    writer = factory_maker(WORKSPACE).vectors("chunks", DIM)
    items, vectors = random_items(20)
    await writer.upsert(items, vectors)

    # WHEN preloaded again and queried
    await reader.preload()
    hits = await reader.query(vectors[4], 3, threshold=-1.0)

    # THEN it answers from everything written
    assert hits[0]["id"] == "v4"
    assert await reader.count() == 20


async def test_hits_carry_the_stored_metadata(factory: StorageFactory) -> None:
    store = factory.vectors("entities", DIM)
    items, vectors = random_items(3)
    await store.upsert(items, vectors)

    (hit,) = await store.query(vectors[1], 1)

    assert hit["id"] == "v1"
    assert hit["score"] == pytest.approx(1.0, abs=1e-5)
    assert {key: hit[key] for key in ("content", "full_doc_id")} == {  # type: ignore[literal-required]
        "content": "text 1",
        "full_doc_id": "doc-1",
    }


async def test_threshold_keeps_only_scores_above_it(factory: StorageFactory) -> None:
    # GIVEN vectors at known angles to the query [1, 0]
    store = factory.vectors("chunks", 2)
    directions = {
        "same": [1.0, 0.0],
        "close": [np.cos(0.3), np.sin(0.3)],
        "orthogonal": [0.0, 1.0],
        "opposite": [-1.0, 0.0],
    }
    await store.upsert([{"id": name} for name in directions], np.array(list(directions.values())))

    # WHEN querying with thresholds
    above_half = await store.query(np.array([1.0, 0.0]), 10, threshold=0.5)
    above_zero = await store.query(np.array([1.0, 0.0]), 10)

    # THEN only hits strictly above the threshold are returned, best first
    assert [hit["id"] for hit in above_half] == ["same", "close"]
    assert [hit["id"] for hit in above_zero] == ["same", "close"]
    assert len(await store.query(np.array([1.0, 0.0]), 10, threshold=-1.1)) == 4


async def test_doc_id_filter_restricts_hits_to_one_document(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(50)
    await store.upsert(items, vectors)

    hits = await store.query(vectors[3], 50, threshold=-1.0, doc_id="doc-3")

    assert sorted(hit["id"] for hit in hits) == sorted(f"v{i}" for i in range(3, 50, 5))
    assert hits[0]["id"] == "v3"
    assert await store.query(vectors[3], 5, threshold=-1.0, doc_id="no-such-doc") == []


async def test_top_k_larger_than_the_store_and_zero(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(4)
    await store.upsert(items, vectors)

    assert len(await store.query(vectors[0], 100, threshold=-1.0)) == 4
    assert await store.query(vectors[0], 0) == []


async def test_empty_store_answers_nothing(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    assert await store.query(np.ones(DIM), 5, threshold=-1.0) == []
    assert await store.count() == 0


async def test_delete_removes_vectors_from_every_read(factory: StorageFactory) -> None:
    # GIVEN 20 vectors, queried once so any cache is warm
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(20)
    await store.upsert(items, vectors)
    await store.query(vectors[0], 5)

    # WHEN deleting three (and an unknown id)
    await store.delete(["v0", "v7", "v19", "unknown"])

    # THEN they are gone from queries, lookups and the count; others are intact
    hits = await store.query(vectors[0], 20, threshold=-1.0)
    assert {hit["id"] for hit in hits} == {f"v{i}" for i in range(20)} - {"v0", "v7", "v19"}
    assert await store.get_by_ids(["v0", "v1"]) == [None, items[1]]
    assert set(await store.get_vectors(["v7", "v8"])) == {"v8"}
    assert await store.count() == 17
    (best,) = await store.query(vectors[8], 1)
    assert best["id"] == "v8"


async def test_upserting_an_existing_id_replaces_vector_and_metadata(
    factory: StorageFactory,
) -> None:
    # GIVEN a stored vector
    store = factory.vectors("entities", 3)
    await store.upsert([{"id": "e", "v": 1}], np.array([[1.0, 0.0, 0.0]]))
    await store.query(np.array([1.0, 0.0, 0.0]), 1)

    # WHEN the same id is upserted with another vector and metadata
    await store.upsert([{"id": "e", "v": 2}], np.array([[0.0, 1.0, 0.0]]))

    # THEN only the new version exists
    assert await store.count() == 1
    assert await store.query(np.array([1.0, 0.0, 0.0]), 5) == []
    (hit,) = await store.query(np.array([0.0, 1.0, 0.0]), 5)
    assert (hit["id"], hit["v"], round(hit["score"], 5)) == ("e", 2, 1.0)  # type: ignore[typeddict-item]


async def test_repeated_id_in_one_batch_keeps_the_last(factory: StorageFactory) -> None:
    store = factory.vectors("entities", 2)
    await store.upsert(
        [{"id": "x", "n": 1}, {"id": "x", "n": 2}], np.array([[1.0, 0.0], [0.0, 1.0]])
    )

    assert await store.get_by_ids(["x"]) == [{"id": "x", "n": 2}]
    np.testing.assert_allclose((await store.get_vectors(["x"]))["x"], [0.0, 1.0])


async def test_get_by_ids_keeps_order_with_none_for_missing(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(3)
    await store.upsert(items, vectors)

    assert await store.get_by_ids(["v2", "missing", "v0"]) == [items[2], None, items[0]]
    assert await store.get_by_ids([]) == []


async def test_get_vectors_returns_unit_float32_vectors(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    items, vectors = random_items(3)
    await store.upsert(items, vectors)

    found = await store.get_vectors(["v0", "v2", "missing"])

    assert set(found) == {"v0", "v2"}
    assert found["v0"].dtype == np.float32
    np.testing.assert_allclose(found["v2"], unit(vectors[2]), atol=1e-6)


async def test_zero_vectors_never_produce_nan(factory: StorageFactory) -> None:
    # GIVEN a zero vector next to a normal one
    store = factory.vectors("chunks", 2)
    await store.upsert([{"id": "zero"}, {"id": "x"}], np.array([[0.0, 0.0], [1.0, 0.0]]))

    # WHEN querying with a normal and with a zero vector
    hits = await store.query(np.array([1.0, 0.0]), 5, threshold=-1.0)
    from_zero = await store.query(np.zeros(2), 5, threshold=-1.0)

    # THEN every score is a finite number (the zero vector scores 0)
    assert {hit["id"]: hit["score"] for hit in hits} == pytest.approx({"x": 1.0, "zero": 0.0})
    assert all(np.isfinite(hit["score"]) for hit in from_zero)


async def test_dimension_mismatch_is_rejected_with_a_hint(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)

    with pytest.raises(StorageError, match=rf"{DIM}.*{DIM + 1}.*EMBEDDING_DIM"):
        await store.upsert([{"id": "x"}], np.ones((1, DIM + 1)))
    with pytest.raises(StorageError, match="EMBEDDING_DIM"):
        await store.query(np.ones(DIM - 1), 5)
    assert await store.count() == 0


async def test_upsert_needs_one_vector_per_item(factory: StorageFactory) -> None:
    store = factory.vectors("chunks", DIM)
    with pytest.raises(StorageError):
        await store.upsert([{"id": "a"}, {"id": "b"}], np.ones((1, DIM)))


async def test_drop_clears_only_its_namespace(factory: StorageFactory) -> None:
    # GIVEN two namespaces with vectors
    chunks, entities = factory.vectors("chunks", DIM), factory.vectors("entities", DIM)
    items, vectors = random_items(10)
    await chunks.upsert(items, vectors)
    await entities.upsert(items[:4], vectors[:4])
    await chunks.query(vectors[0], 3)

    # WHEN one is dropped
    await chunks.drop()

    # THEN it is empty (and usable again); the other is untouched
    assert await chunks.count() == 0
    assert await chunks.query(vectors[0], 3, threshold=-1.0) == []
    assert await entities.count() == 4
    await chunks.upsert(items[:1], vectors[:1])
    assert [hit["id"] for hit in await chunks.query(vectors[0], 3, threshold=-1.0)] == ["v0"]


async def test_vectors_survive_closing_and_reopening(factory_maker: MakeFactory) -> None:
    first = factory_maker(WORKSPACE)
    items, vectors = random_items(10)
    await first.vectors("chunks", DIM).upsert(items, vectors)
    await first.close()

    reopened = factory_maker(WORKSPACE).vectors("chunks", DIM)

    assert await reopened.count() == 10
    (hit,) = await reopened.query(vectors[4], 1)
    assert hit["id"] == "v4"


async def test_a_second_factory_sees_upserts_deletes_and_drops(factory_maker: MakeFactory) -> None:
    # GIVEN two factories on one workspace, the reader's view already loaded
    writer = factory_maker(WORKSPACE).vectors("chunks", DIM)
    reader = factory_maker(WORKSPACE).vectors("chunks", DIM)
    items, vectors = random_items(30)
    await writer.upsert(items[:10], vectors[:10])
    assert await reader.count() == 10
    await reader.query(vectors[0], 1)

    # WHEN the writer adds, replaces and deletes vectors
    await writer.upsert(items[10:], vectors[10:])
    await writer.upsert([{"id": "v1", "replaced": True}], vectors[20:21])
    await writer.delete(["v2"])

    # THEN the reader's queries reflect all of it
    hits = await reader.query(vectors[20], 30, threshold=-1.0)
    assert {hit["id"] for hit in hits} == {f"v{i}" for i in range(30)} - {"v2"}
    assert {hit["id"] for hit in hits[:2]} == {"v1", "v20"}

    # AND WHEN the writer drops the namespace, the reader sees it empty
    await writer.drop()
    assert await reader.query(vectors[20], 30, threshold=-1.0) == []
