"""DynamoDB adapter: what the storage contract suite does not cover.

The contract suite (``LAMBDARAG_CONTRACT_BACKENDS=dynamodb``) checks the behaviour against
DynamoDB Local; these tests check the DynamoDB side: settings and env names, key encoding
of long keys, the blob pointer path (a fake blob store and a lowered inline limit: moto is
not a dependency, production uses S3), re-sending unprocessed batch items, table creation,
listings that query indexes and never scan, and errors.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest

from lambdarag.storage.base import DocStatusRecord, StorageError, StoreUnavailableError
from lambdarag.storage.dynamodb import (
    DynamoDBSettings,
    DynamoDBStorageFactory,
    key_part,
    make_client,
    partition,
    stored_workspaces,
    table_definition,
)
from lambdarag.storage.dynamodb.table import KEY_TEXT_LIMIT, from_wire
from tests.aws.conftest import AWS_CREDENTIALS, AWS_REGION, LocalAws


def _from_env(environ: dict[str, str]) -> DynamoDBSettings:
    """The adapter's settings as config.py parses them from ``environ``."""
    from lambdarag.config import DynamoDBEnv

    settings: DynamoDBSettings = DynamoDBEnv.from_mapping(environ).adapter()
    return settings

# ------------------------------------------------------------------ no server needed


def test_settings_read_env_names_with_defaults() -> None:
    env = {
        "LAMBDARAG_DYNAMODB_TABLE": "rag-prod",
        "LAMBDARAG_DYNAMODB_CREATE_TABLE": "false",
        "AWS_REGION": "eu-west-1",
        "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000",
        "LAMBDARAG_DYNAMODB_MAX_ATTEMPTS": "4",
        "LAMBDARAG_DYNAMODB_BATCH_ATTEMPTS": "3",
        "LAMBDARAG_DYNAMODB_INLINE_LIMIT": "1000",
        "LAMBDARAG_DYNAMODB_BLOB_BUCKET": "rag-blobs",
        "LAMBDARAG_DYNAMODB_BLOB_PREFIX": "big/",
    }
    assert _from_env(env) == DynamoDBSettings(
        table="rag-prod", create_table=False, region="eu-west-1",
        endpoint_url="http://127.0.0.1:8000", max_attempts=4, batch_attempts=3,
        inline_limit=1000, blob_bucket="rag-blobs", blob_prefix="big/",
    )
    assert _from_env({}) == DynamoDBSettings()
    assert _from_env({"AWS_DEFAULT_REGION": "ap-south-1"}).region == "ap-south-1"


@pytest.mark.parametrize(
    "bad", [{"table": "x"}, {"inline_limit": 0}, {"inline_limit": 500_000}, {"max_attempts": 0}]
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        DynamoDBSettings(**bad)


def test_client_uses_adaptive_retries() -> None:
    client = make_client(DynamoDBSettings(endpoint_url="http://127.0.0.1:1", max_attempts=7))
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 7}


def test_key_parts_are_injective_and_bounded() -> None:
    # GIVEN short keys, keys at and over the limit, and keys that differ only past it
    base = "長" * 400  # 1,200 UTF-8 bytes
    keys = ["", "a", "=a", "#a", "x" * KEY_TEXT_LIMIT, "x" * (KEY_TEXT_LIMIT + 1),
            base + "1", base + "2", "🚀" * 2000]
    parts = [key_part(key) for key in keys]
    # THEN every part is distinct and fits a DynamoDB sort key (1,024 bytes)
    assert len(set(parts)) == len(keys)
    assert max(len(part.encode()) for part in parts) <= 1024
    assert key_part("a") == "=a"


def test_partitions_keep_workspaces_and_kinds_apart() -> None:
    assert partition("a|kv|=b", "kv", "c") != partition("a", "kv", "b|kv|=c")
    assert partition("", "kv", "x") != partition("x", "kv", "")


def test_table_definition_is_on_demand_with_sparse_indexes() -> None:
    definition = table_definition("t")
    assert definition["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in definition["GlobalSecondaryIndexes"]} == {
        "doc-list", "doc-status", "doc-track", "doc-file", "doc-hash"}


async def test_factory_has_no_vectors_or_graph() -> None:
    factory = DynamoDBStorageFactory(DynamoDBSettings(endpoint_url="http://127.0.0.1:1"), "w")
    with pytest.raises(StorageError):
        factory.vectors("chunks", 8)
    with pytest.raises(StorageError):
        factory.graph()
    await factory.close()
    await factory.close()  # harmless twice


async def test_unreachable_endpoint_is_store_unavailable() -> None:
    client = _client("http://127.0.0.1:1", max_attempts=1)
    factory = DynamoDBStorageFactory(DynamoDBSettings(table="lrt-none"), "w", client=client)
    with pytest.raises(StoreUnavailableError):
        await factory.kv("full_docs").get_by_id("k")


# ------------------------------------------------------------------ DynamoDB Local


class MemoryBlobStore:
    """The fake blob store: a dict behind a lock (the adapter calls it from threads)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self.blobs[key] = data

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self.blobs:
                raise StorageError(f"blob {key} missing")
            return self.blobs[key]

    def delete(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self.blobs.pop(key, None)


class RecordingClient:
    """A real client that records operations and can hold back part of each batch."""

    def __init__(self, client: Any, *, hold_back: int = 0) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.hold_back = hold_back  # batches whose second half is returned unprocessed

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name in ("exceptions", "get_waiter", "close"):
            return attribute

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return attribute(**kwargs)

        return call

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("batch_write_item", RequestItems))
        (table, requests), = RequestItems.items()
        sent, held = self._split(requests)
        self._client.batch_write_item(RequestItems={table: sent})
        return {"UnprocessedItems": {table: held} if held else {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("batch_get_item", RequestItems))
        (table, request), = RequestItems.items()
        sent, held = self._split(request["Keys"])
        response = self._client.batch_get_item(RequestItems={table: {**request, "Keys": sent}})
        unprocessed = {table: {**request, "Keys": held}} if held else {}
        return {"Responses": response["Responses"], "UnprocessedKeys": unprocessed}

    def _split(self, requests: list[Any]) -> tuple[list[Any], list[Any]]:
        if self.hold_back > 0 and len(requests) > 1:
            self.hold_back -= 1
            half = len(requests) // 2
            return requests[:half], requests[half:]
        return requests, []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _client(url: str, max_attempts: int = 3) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb", endpoint_url=url, region_name=AWS_REGION,
        config=Config(retries={"mode": "adaptive", "max_attempts": max_attempts},
                      connect_timeout=1, read_timeout=5),
        **AWS_CREDENTIALS,
    )


Opener = Callable[..., DynamoDBStorageFactory]


@pytest.fixture
async def open_factory(
    local_aws: LocalAws, dynamodb_client: Any, unique_name: str
) -> AsyncIterator[Opener]:
    """``open(**settings) -> factory`` on a table unique to the test, deleted afterwards."""
    opened: list[DynamoDBStorageFactory] = []
    table = f"lrt-{unique_name}"

    def open_(workspace: str = "w", *, client: Any = None, blob_store: Any = None,
              **settings: Any) -> DynamoDBStorageFactory:
        factory = DynamoDBStorageFactory(
            DynamoDBSettings(table=table, **settings), workspace,
            client=client or dynamodb_client, blob_store=blob_store,
        )
        opened.append(factory)
        return factory

    yield open_
    for factory in opened:
        await factory.close()
    try:
        dynamodb_client.delete_table(TableName=table)
    except dynamodb_client.exceptions.ResourceNotFoundException:
        pass


def _raw_items(client: Any, table: str) -> list[dict[str, str]]:
    return [from_wire(item) for item in client.scan(TableName=table)["Items"]]


async def test_table_is_created_once_on_demand_even_when_raced(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    # WHEN two factories touch a missing table at the same time
    one, two = open_factory("a"), open_factory("b")
    await asyncio.gather(one.kv("n").upsert({"k": {}}), two.kv("n").upsert({"k": {}}))

    # THEN the table exists, on-demand, with its indexes, and both writes landed
    table = dynamodb_client.describe_table(TableName=one.settings.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert len(table["GlobalSecondaryIndexes"]) == 5
    assert await one.kv("n").keys() == await two.kv("n").keys() == ["k"]


async def test_missing_table_without_create_is_store_unavailable(open_factory: Opener) -> None:
    factory = open_factory(create_table=False)
    with pytest.raises(StoreUnavailableError, match="SAM template"):
        await factory.kv("n").get_by_id("k")


async def test_workspaces_holding_documents_are_listed_without_a_scan(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    settings = open_factory().settings
    # GIVEN no table yet: nothing is listed
    assert stored_workspaces(settings, dynamodb_client) == []
    # WHEN two workspaces store documents and a third only KV entries
    for workspace in ("finance", "hr"):
        store = open_factory(workspace).doc_status()
        await store.upsert([DocStatusRecord(id="d1", status="pending", file_path="a.txt")])
        await store.upsert([DocStatusRecord(id="d2", status="pending", file_path="b.txt")])
    await open_factory("scratch").kv("n").upsert({"k": {}})
    # THEN exactly the two with documents are listed, each once
    assert stored_workspaces(settings, dynamodb_client) == ["finance", "hr"]


async def test_long_keys_are_hashed_but_stay_data(open_factory: Opener) -> None:
    # GIVEN keys longer than a sort key may be, two of them sharing their first 1,500 bytes
    store = open_factory().kv("llm_response_cache")
    shared = "ключ" * 200  # 1,600 bytes
    keys = [shared + "a", shared + "b", "x" * 3000, "short"]
    await store.upsert({key: {"key": key} for key in keys})

    # THEN each is its own item, found by id, listed sorted and by long prefixes
    assert await store.get_by_ids(keys) == [{"key": key} for key in keys]
    assert await store.keys() == sorted(keys)
    assert await store.keys(shared) == [shared + "a", shared + "b"]
    assert await store.keys(shared + "b") == [shared + "b"]
    assert await store.filter_keys([*keys, shared]) == {shared}
    await store.delete([shared + "a"])
    assert await store.keys(shared) == [shared + "b"]


async def test_long_doc_ids_file_paths_and_entity_names(open_factory: Opener) -> None:
    factory = open_factory()
    long_id, long_path, long_name = "d" * 2500, "/p/" + "長" * 1000, "E" * 3000
    record = DocStatusRecord(id=long_id, status="processed", file_path=long_path, track_id=long_name)
    await factory.doc_status().upsert([record])
    assert await factory.doc_status().by_file_path(long_path) == [record]
    assert await factory.doc_status().by_track_id(long_name) == [record]
    fragments = factory.fragments()
    await fragments.put_chunk_fragments(long_id, [{"entity_name": long_name}],
                                        [{"src_id": long_name, "tgt_id": long_path}])
    assert (await fragments.entity_fragments([long_name]))[long_name] == [
        {"entity_name": long_name, "chunk_id": long_id}]
    assert await fragments.keys_for_chunks([long_id]) == (
        {long_name}, {(long_path, long_name)})


async def test_big_values_go_to_the_blob_store_with_a_pointer(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    # GIVEN a blob store and an inline limit of 1 KB
    blobs = MemoryBlobStore()
    factory = open_factory(blob_store=blobs, inline_limit=1000)
    store = factory.kv("full_docs")
    big = {"content": "x" * 500_000}  # over DynamoDB's 400 KB item limit

    # WHEN a small and a big value are stored
    await store.upsert({"small": {"content": "s"}, "big": big})

    # THEN the big one is a pointer in DynamoDB and whole when read back
    items = {item["k"]: item for item in _raw_items(dynamodb_client, factory.settings.table)}
    assert "d" in items["small"] and "b" not in items["small"]
    assert "d" not in items["big"] and items["big"]["b"] in blobs.blobs
    assert await store.get_by_ids(["big", "small"]) == [big, {"content": "s"}]

    # AND rewriting overwrites the one blob; deleting removes it
    await store.upsert({"big": {**big, "v": 2}})
    assert len(blobs.blobs) == 1
    assert (await store.get_by_id("big"))["v"] == 2  # type: ignore[index]
    await store.delete(["big"])
    assert blobs.blobs == {}


async def test_big_doc_status_and_fragments_use_blobs_and_drop_removes_them(
    open_factory: Opener,
) -> None:
    blobs = MemoryBlobStore()
    factory = open_factory(blob_store=blobs, inline_limit=1000)
    record = DocStatusRecord(id="d", status="processed", file_path="f",
                             chunks_list=[f"chunk-{i:05d}" for i in range(200)])
    await factory.doc_status().upsert([record])
    fragment = {"entity_name": "A", "description": "y" * 5000}
    await factory.fragments().put_chunk_fragments("c", [fragment], [])

    assert await factory.doc_status().by_file_path("f") == [record]
    page = await factory.doc_status().page(statuses=None, page=1, page_size=5,
                                           sort_field="id", sort_direction="asc")
    assert page.documents == [record]
    assert (await factory.fragments().entity_fragments(["A"]))["A"] == [
        {**fragment, "chunk_id": "c"}]
    assert len(blobs.blobs) == 2

    await factory.doc_status().drop()
    await factory.fragments().drop()
    assert blobs.blobs == {}


async def test_big_value_without_blob_store_is_refused(open_factory: Opener) -> None:
    store = open_factory(inline_limit=1000).kv("full_docs")
    with pytest.raises(StorageError, match="BLOB_BUCKET"):
        await store.upsert({"big": {"content": "x" * 2000}})


async def test_batches_are_chunked_and_unprocessed_items_resent(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    # GIVEN a client that returns half of each of the first batches as unprocessed
    client = RecordingClient(dynamodb_client, hold_back=3)
    store = open_factory(client=client).kv("text_chunks")
    data = {f"k{i:03d}": {"i": i} for i in range(260)}

    # WHEN 260 values are written and read back
    await store.upsert(data)
    client.hold_back = 2
    values = await store.get_by_ids(list(data))

    # THEN everything arrived, in batches of at most 25 writes and 100 reads
    assert values == list(data.values())
    writes = [len(r[next(iter(r))]) for name, r in client.calls if name == "batch_write_item"]
    reads = [len(r[next(iter(r))]["Keys"]) for name, r in client.calls
             if name == "batch_get_item"]
    assert max(writes) == 25 and max(reads) == 100
    assert sum(writes) > 260 and sum(reads) > 260  # the held-back halves were re-sent
    assert client.hold_back == 0


async def test_batches_give_up_after_the_attempt_limit(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    client = RecordingClient(dynamodb_client, hold_back=1000)
    store = open_factory(client=client, batch_attempts=2).kv("text_chunks")
    with pytest.raises(StorageError, match="unprocessed"):
        await store.upsert({f"k{i}": {} for i in range(10)})


async def test_doc_status_listings_query_indexes_and_never_scan(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    # GIVEN a few rows
    client = RecordingClient(dynamodb_client)
    store = open_factory(client=client).doc_status()
    await store.upsert([
        DocStatusRecord(id=f"d{i}", status=("processed", "failed")[i % 2], file_path=f"f{i}",
                        track_id="t", content_hash=f"h{i}", created_at=f"2025-01-0{i + 1}")
        for i in range(4)
    ])

    # WHEN every listing is used
    client.calls.clear()
    page = await store.page(statuses=["failed"], page=1, page_size=1,
                            sort_field="created_at", sort_direction="desc")
    await store.page(statuses=None, page=1, page_size=10, sort_field="file_path",
                     sort_direction="asc")
    await store.by_status(["processed"])
    await store.by_track_id("t")
    await store.by_file_path("f1")
    await store.by_content_hash("h2")
    await store.status_counts()

    # THEN only queries on the indexes (and batch gets of whole rows) were sent
    assert [r["id"] for r in page.documents] == ["d3"] and page.total_count == 2
    assert set(client.names()) == {"query", "batch_get_item"}
    indexes = {kwargs.get("IndexName") for name, kwargs in client.calls if name == "query"}
    assert indexes == {"doc-list", "doc-status", "doc-track", "doc-file", "doc-hash"}


async def test_stale_index_entries_are_rechecked_against_the_table(open_factory: Opener) -> None:
    # GIVEN a row whose file path changed (an index may lag behind on AWS)
    store = open_factory().doc_status()
    await store.upsert([DocStatusRecord(id="d", status="pending", file_path="old")])
    await store.upsert([DocStatusRecord(id="d", status="processed", file_path="new")])

    # THEN lookups answer from the current row
    assert await store.by_file_path("old") == []
    assert await store.by_status(["pending"]) == []
    assert [r["id"] for r in await store.by_file_path("new")] == ["d"]


async def test_rewriting_a_chunk_removes_stale_fragments_from_the_table(
    open_factory: Opener, dynamodb_client: Any
) -> None:
    factory = open_factory()
    fragments = factory.fragments()
    await fragments.put_chunk_fragments("c", [{"entity_name": "A"}, {"entity_name": "B"}],
                                        [{"src_id": "A", "tgt_id": "B"}])
    await fragments.put_chunk_fragments("c", [{"entity_name": "A"}], [])
    await fragments.put_chunk_fragments("d", [], [])
    # THEN only A's fragment and c's manifest are left as items
    assert len(_raw_items(dynamodb_client, factory.settings.table)) == 2
    await fragments.put_chunk_fragments("c", [], [])
    assert _raw_items(dynamodb_client, factory.settings.table) == []
