"""KVStorage contract: optimistic versions (compare-and-set across processes)."""

from __future__ import annotations

import asyncio

import pytest

from lambdarag.storage.base import KVStorage, StorageFactory, VersionConflictError
from tests.contract.contract_backends import WORKSPACE, MakeFactory


async def test_absent_key_has_no_version_and_can_be_created_once(
    factory: StorageFactory,
) -> None:
    store = factory.kv("doc_tombstones")

    # GIVEN an absent key
    assert await store.get_versioned(["k"]) == [(None, None)]

    # WHEN it is created with expected=None twice
    version = await store.put_if_version("k", {"n": 1}, None)
    with pytest.raises(VersionConflictError):
        await store.put_if_version("k", {"n": 2}, None)

    # THEN the first write holds and its version is what a read reports
    assert await store.get_versioned(["k", "other"]) == [({"n": 1}, version), (None, None)]
    assert version


async def test_write_with_the_current_version_succeeds_and_a_stale_one_fails(
    factory: StorageFactory,
) -> None:
    store = factory.kv("doc_tombstones")
    first = await store.put_if_version("k", {"n": 1}, None)

    # WHEN the value is swapped with the version just read
    second = await store.put_if_version("k", {"n": 2}, first)

    # THEN the version changed, and a writer still holding the old one loses
    assert second != first
    with pytest.raises(VersionConflictError):
        await store.put_if_version("k", {"n": 99}, first)
    assert await store.get_by_id("k") == {"n": 2}


async def test_plain_upserts_change_the_version_too(factory: StorageFactory) -> None:
    # GIVEN a versioned read
    store = factory.kv("doc_tombstones")
    version = await store.put_if_version("k", {"n": 1}, None)

    # WHEN someone upserts without a version
    await store.upsert({"k": {"n": 5}})

    # THEN the old version no longer matches, and the current one does
    with pytest.raises(VersionConflictError):
        await store.put_if_version("k", {"n": 2}, version)
    [(value, current)] = await store.get_versioned(["k"])
    assert value == {"n": 5}
    await store.put_if_version("k", {"n": 6}, current)
    assert await store.get_by_id("k") == {"n": 6}


async def test_versioned_delete_needs_the_current_version(factory: StorageFactory) -> None:
    store = factory.kv("doc_tombstones")
    first = await store.put_if_version("k", {"n": 1}, None)
    second = await store.put_if_version("k", {"n": 2}, first)

    # WHEN deleting with a stale version, then with the current one
    with pytest.raises(VersionConflictError):
        await store.put_if_version("k", None, first)
    assert await store.get_by_id("k") == {"n": 2}
    assert await store.put_if_version("k", None, second) is None

    # THEN the key is gone and can be created again
    assert await store.get_versioned(["k"]) == [(None, None)]
    assert await store.put_if_version("k", {"n": 3}, None)


async def test_versions_follow_values_not_key_order(factory: StorageFactory) -> None:
    # Equal values written by different paths have the same version (what makes a
    # version computable by any process); different values have different versions.
    store = factory.kv("doc_tombstones")
    await store.upsert({"a": {"x": 1, "y": [1, "é"]}, "b": {"y": [1, "é"], "x": 1}, "c": {"x": 2}})
    (_, va), (_, vb), (_, vc) = await store.get_versioned(["a", "b", "c"])
    assert va == vb
    assert va != vc


async def _increment(store: KVStorage, key: str) -> int:
    """Read, add one, compare-and-set; retry on conflict. Returns the attempts used."""
    for attempt in range(1, 200):
        [(value, version)] = await store.get_versioned([key])
        count = (value or {"count": 0})["count"]
        try:
            await store.put_if_version(key, {"count": count + 1}, version)
            return attempt
        except VersionConflictError:
            await asyncio.sleep(0)
    raise AssertionError("no progress after 200 attempts")


async def test_concurrent_writers_in_separate_factories_lose_no_update(
    factory_maker: MakeFactory,
) -> None:
    # GIVEN two factories on the same workspace (two processes, as two Lambdas would be)
    stores = [factory_maker(WORKSPACE).kv("doc_tombstones") for _ in range(2)]

    # WHEN 24 increments race through both
    attempts = await asyncio.gather(*(_increment(stores[i % 2], "counter") for i in range(24)))

    # THEN every increment landed exactly once, and at least one had to retry
    assert await stores[0].get_by_id("counter") == {"count": 24}
    assert max(attempts) > 1


async def test_versioned_keys_are_isolated_per_workspace_and_namespace(
    factory_maker: MakeFactory,
) -> None:
    mine = factory_maker(WORKSPACE).kv("doc_tombstones")
    other_ns = factory_maker(WORKSPACE).kv("full_docs")
    other_ws = factory_maker("other_workspace").kv("doc_tombstones")
    await mine.put_if_version("k", {"n": 1}, None)

    # THEN the same key elsewhere is still absent, and can be created there
    assert await other_ns.get_versioned(["k"]) == [(None, None)]
    assert await other_ws.put_if_version("k", {"n": 2}, None)
    assert await mine.get_by_id("k") == {"n": 1}
