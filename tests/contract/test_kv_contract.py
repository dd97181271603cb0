"""KVStorage contract."""

from __future__ import annotations

from lambdarag.storage.base import StorageFactory
from tests.contract.contract_backends import WORKSPACE, MakeFactory


async def test_upsert_then_get_returns_values_in_key_order(factory: StorageFactory) -> None:
    # GIVEN two stored values
    store = factory.kv("full_docs")
    await store.upsert({"a": {"content": "alpha", "n": 1}, "b": {"content": "beta", "n": [1, 2]}})

    # WHEN reading one, several (with a missing key and a repeat) and a missing one
    one = await store.get_by_id("a")
    many = await store.get_by_ids(["b", "missing", "a", "b"])
    missing = await store.get_by_id("missing")

    # THEN values come back whole, in the order asked, None where absent
    assert one == {"content": "alpha", "n": 1}
    assert many == [{"content": "beta", "n": [1, 2]}, None, {"content": "alpha", "n": 1}, many[0]]
    assert missing is None


async def test_upsert_replaces_the_whole_value(factory: StorageFactory) -> None:
    # GIVEN a stored value with two fields
    store = factory.kv("text_chunks")
    await store.upsert({"k": {"x": 1, "y": 2}})

    # WHEN the key is upserted with one field
    await store.upsert({"k": {"x": 3}})

    # THEN the value is replaced, not merged
    assert await store.get_by_id("k") == {"x": 3}


async def test_nested_and_unicode_values_roundtrip(factory: StorageFactory) -> None:
    # GIVEN awkward keys and values
    store = factory.kv("llm_response_cache")
    value = {
        "text": 'quote " backslash \\ tab \t <|#|> 東京 🚀',
        "nested": {"a": [1, 2.5, None, True]},
    }
    keys = ['k"1', "k\\2", "東京", "<|#|>", "k with spaces"]

    # WHEN they are stored
    await store.upsert({key: value for key in keys})

    # THEN each comes back unchanged
    assert await store.get_by_ids(keys) == [value] * len(keys)


async def test_filter_keys_returns_only_unstored_keys(factory: StorageFactory) -> None:
    # GIVEN two stored keys
    store = factory.kv("full_docs")
    await store.upsert({"a": {}, "b": {}})

    # WHEN filtering a mix of stored and new keys
    new = await store.filter_keys(["a", "c", "b", "d", "c"])

    # THEN only the unstored ones remain
    assert new == {"c", "d"}
    assert await store.filter_keys([]) == set()


async def test_delete_removes_only_given_keys(factory: StorageFactory) -> None:
    # GIVEN three keys
    store = factory.kv("full_docs")
    await store.upsert({"a": {}, "b": {}, "c": {}})

    # WHEN two are deleted, one of them twice and one that never existed
    await store.delete(["a", "c", "a", "never"])
    await store.delete([])

    # THEN only the other key remains
    assert await store.keys() == ["b"]


async def test_keys_are_sorted_and_filtered_by_prefix(factory: StorageFactory) -> None:
    # GIVEN keys sharing prefixes, inserted out of order
    store = factory.kv("llm_response_cache")
    keys = ["mix:b", "extract:2", "mix:a", "extract:10", "extract", "extracu", "ñ:1", "ñ:2", "z"]
    await store.upsert({key: {"k": key} for key in keys})

    # WHEN listing all keys and by prefix
    # THEN keys are sorted and exactly those with the prefix are returned
    assert await store.keys() == sorted(keys)
    assert await store.keys("extract") == ["extract", "extract:10", "extract:2"]
    assert await store.keys("mix:") == ["mix:a", "mix:b"]
    assert await store.keys("ñ") == ["ñ:1", "ñ:2"]
    assert await store.keys("nope") == []


async def test_drop_clears_only_its_namespace(factory: StorageFactory) -> None:
    # GIVEN two namespaces holding the same key
    docs, chunks = factory.kv("full_docs"), factory.kv("text_chunks")
    await docs.upsert({"same": {"ns": "docs"}})
    await chunks.upsert({"same": {"ns": "chunks"}})

    # WHEN one namespace is dropped
    await docs.drop()

    # THEN the other keeps its value
    assert await docs.keys() == []
    assert await docs.get_by_id("same") is None
    assert await chunks.get_by_id("same") == {"ns": "chunks"}


async def test_values_survive_closing_and_reopening(factory_maker: MakeFactory) -> None:
    # GIVEN a value written through a factory that is then closed
    first = factory_maker(WORKSPACE)
    await first.kv("full_docs").upsert({"k": {"v": 1}})
    await first.close()

    # WHEN the workspace is opened again
    reopened = factory_maker(WORKSPACE)

    # THEN the value is there
    assert await reopened.kv("full_docs").get_by_id("k") == {"v": 1}
