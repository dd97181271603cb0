"""The one DynamoDB table of the adapter: keys, item encoding, batches, retries, errors.

Threads
    aioboto3 is not a dependency, so every call is a synchronous boto3 call run with
    ``asyncio.to_thread``. One client per factory is shared by those threads: boto3
    clients (unlike resources and sessions) are thread-safe. Independent reads (one
    partition per entity name, say) run a few at a time (``READ_CONCURRENCY``).

Keys
    ``pk`` = ``<len(workspace)>:<workspace>|<kind>|<part>`` puts the workspace in every
    partition key, so workspaces never share a partition, and the explicit length keeps
    any workspace name from bleeding into the kind. Free text (KV keys, doc ids, entity
    names, chunk ids) goes through :func:`key_part`: ``=`` + the text when it is at most
    ``KEY_TEXT_LIMIT`` UTF-8 bytes, else ``#`` + its first bytes + its SHA-256. The marker
    makes the map injective (up to SHA-256 collisions) and keeps sort keys under DynamoDB's
    1,024 bytes and partition keys under 2,048; the original text is always kept in an
    ordinary attribute, which is what reads return and compare.

Values
    A value is stored as its JSON text in ``d`` (JSON, not DynamoDB maps: floats, ``None``
    and empty strings round-trip exactly, and a value is replaced whole). Text longer than
    the inline limit goes to the :class:`~lambdarag.storage.dynamodb.blobs.BlobStore`, and
    the item keeps the pointer in ``b``. ``v`` holds the value's version (the SHA-1 of its
    canonical JSON, :func:`~lambdarag.storage.base.value_version`): a compare-and-set is a
    PutItem or DeleteItem conditioned on it.

Retries
    botocore's ``adaptive`` retry mode (client-side rate limiting plus exponential backoff)
    retries throttling (ProvisionedThroughputExceededException, ThrottlingException,
    RequestLimitExceeded) and transient errors up to ``max_attempts``. BatchWriteItem and
    BatchGetItem return what they could not process instead of failing: those items are
    re-sent under the engine's one retry policy (:mod:`lambdarag.retry`: exponential
    backoff, full jitter), ``batch_attempts`` rounds at most. botocore's mode stays: it
    retries each call (and rate-limits the client) below this, where no policy of ours sees.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from lambdarag.retry import Backoff, retrying_sync
from lambdarag.storage.base import (
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VersionConflictError,
    value_json,
)
from lambdarag.storage.dynamodb.blobs import BlobStore
from lambdarag.storage.dynamodb.settings import DynamoDBSettings

if TYPE_CHECKING:
    from tenacity import Retrying

logger = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, str]  # (pk, sk)
Item = dict[str, str]  # every attribute the adapter writes is a string

KEY_TEXT_LIMIT = 900  # bytes of text kept readable in a key part (sk limit is 1,024)
_HASHED_TEXT = KEY_TEXT_LIMIT - 80
WRITE_BATCH = 25  # BatchWriteItem limit
READ_BATCH = 100  # BatchGetItem limit
READ_CONCURRENCY = 8
# Re-sending unprocessed batch items: first wait at most 50 ms, doubling up to 2 s.
_BATCH_BACKOFF = Backoff(base=0.05, cap=2.0)
TABLE_WAIT_SECONDS = 120

# Sparse global secondary indexes (only doc status rows carry their key attributes).
LEAN_ATTRIBUTES = ["id", "st", "ca", "ua", "fp"]
INDEXES: dict[str, tuple[str, str]] = {  # name -> (hash attribute, projection)
    "doc-list": ("lpk", "INCLUDE"),
    "doc-status": ("spk", "INCLUDE"),
    "doc-track": ("tpk", "KEYS_ONLY"),
    "doc-file": ("fpk", "KEYS_ONLY"),
    "doc-hash": ("hpk", "KEYS_ONLY"),
}


def key_part(text: str) -> str:
    """``text`` as an injective, length-bounded key part (see the module docstring)."""
    raw = text.encode("utf-8")
    if len(raw) <= KEY_TEXT_LIMIT:
        return "=" + text
    return "#" + _truncate(text, _HASHED_TEXT) + hashlib.sha256(raw).hexdigest()


def key_part_prefixes(prefix: str) -> list[str]:
    """Sort-key prefixes that every :func:`key_part` of a text starting with ``prefix`` has."""
    found = ["#" + _truncate(prefix, _HASHED_TEXT)]
    if len(prefix.encode("utf-8")) <= KEY_TEXT_LIMIT:
        found.insert(0, "=" + prefix)
    return found


# Partition of the workspace registry: one item per workspace that has stored documents.
# Workspace partitions start with "<length>:", so this key cannot collide with them.
REGISTRY_PK = "registry|workspaces"


def registry_item(workspace: str) -> dict[str, Any]:
    """The wire item recording that ``workspace`` holds documents."""
    return to_wire({"pk": REGISTRY_PK, "sk": key_part(workspace), "w": workspace})


def partition(workspace: str, kind: str, part: str = "") -> str:
    """The partition key of ``kind`` items (``part``: free text, e.g. a namespace) in ``workspace``."""
    return f"{len(workspace)}:{workspace}|{kind}|{key_part(part)}"


def table_definition(table: str) -> dict[str, Any]:
    """The CreateTable request: the SAM template must declare the same keys and indexes."""
    attributes = ["pk", "sk", *(hash_key for hash_key, _ in INDEXES.values())]
    indexes = []
    for name, (hash_key, projection) in INDEXES.items():
        spec: dict[str, Any] = {"ProjectionType": projection}
        if projection == "INCLUDE":
            spec["NonKeyAttributes"] = LEAN_ATTRIBUTES
        indexes.append({
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "Projection": spec,
        })
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": indexes,
    }


def make_client(settings: DynamoDBSettings) -> Any:
    """A boto3 DynamoDB client with adaptive retries (credentials from the default chain)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url or None,
        config=Config(retries={"mode": "adaptive", "total_max_attempts": settings.max_attempts}),
    )


class DynamoTable:
    """Typed helpers over one table; every method named ``*_sync`` runs in a worker thread."""

    def __init__(
        self, client: Any, settings: DynamoDBSettings, blob_store: BlobStore | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.name = settings.table
        self.blob_store = blob_store
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- running ------------------------------------------------------------

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in a worker thread once the table exists; errors become StorageError."""
        return await asyncio.to_thread(self._guarded, work, *args)

    async def ensure(self) -> None:
        """Create the table if it is missing (and allowed), waiting until it is ACTIVE."""
        await self.run(lambda: None)

    async def run_many(self, calls: Iterable[Callable[[], T]]) -> list[T]:
        """Independent calls, ``READ_CONCURRENCY`` at a time, results in order."""
        gate = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(call: Callable[[], T]) -> T:
            async with gate:
                return await self.run(call)

        tasks: list[Awaitable[T]] = [one(call) for call in calls]
        return list(await asyncio.gather(*tasks))

    def _guarded(self, work: Callable[..., T], *args: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._ensure_table()
            return work(*args)
        except ClientError as exc:
            raise translate(exc, self.name) from exc
        except BotoCoreError as exc:  # connection refused, timeouts, missing credentials
            raise StoreUnavailableError(
                f"DynamoDB table {self.name} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    def _ensure_table(self) -> None:
        """Check the table once; create it (on-demand, idempotently) when allowed.

        Another process may be creating it at the same moment: "in use" is success, and a
        table (or index) still CREATING is waited for, since requests to it fail until then.
        A table without the adapter's keys or indexes is refused by name.
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                table = self.client.describe_table(TableName=self.name)["Table"]
            except self.client.exceptions.ResourceNotFoundException as exc:
                if not self.settings.create_table:
                    raise StoreUnavailableError(
                        f"DynamoDB table {self.name} does not exist: deploy it with the SAM "
                        "template, or set LAMBDARAG_DYNAMODB_CREATE_TABLE=true (then "
                        "`lambdarag init-stores` creates it ahead)"
                    ) from exc
                self._create_table()
                table = self.client.describe_table(TableName=self.name)["Table"]
            table = self._wait_active(table)
            self.check_table(table)
            self._ready = True

    def _create_table(self) -> None:
        try:
            self.client.create_table(**self.definition())
            logger.info("creating DynamoDB table %s (on-demand)", self.name)
        except self.client.exceptions.ResourceInUseException:
            logger.debug("DynamoDB table %s is being created by someone else", self.name)

    def definition(self) -> dict[str, Any]:
        """The CreateTable request of this table (a subclass may hold other items)."""
        return table_definition(self.name)

    def check_table(self, table: dict[str, Any]) -> None:
        """Refuse a described table this adapter cannot use (StorageError naming the fix)."""
        check_definition(table)

    def _wait_active(self, table: dict[str, Any]) -> dict[str, Any]:
        """The table's description once it and all its indexes are ACTIVE (2 minutes at most)."""
        deadline = time.monotonic() + TABLE_WAIT_SECONDS
        while not _active(table):
            if time.monotonic() > deadline:
                raise StoreUnavailableError(
                    f"DynamoDB table {self.name} is still {table.get('TableStatus')} after "
                    f"{TABLE_WAIT_SECONDS} s (or one of its indexes is); retry later"
                )
            time.sleep(1.0)
            table = self.client.describe_table(TableName=self.name)["Table"]
        return table

    # -- values -------------------------------------------------------------

    def pack(self, item: Item, value: Any) -> dict[str, Any]:
        """``item`` (with pk and sk) plus ``value`` inline or as a blob pointer, as a wire item."""
        text = value_json(value)
        item = dict(item)
        item["v"] = hashlib.sha1(text.encode("utf-8")).hexdigest()
        if len(text.encode("utf-8")) <= self.settings.inline_limit:
            item["d"] = text
        elif self.blob_store is None:
            raise StorageError(
                f"a value of {len(text)} characters exceeds the DynamoDB inline limit "
                f"({self.settings.inline_limit} bytes) and no blob store is configured "
                "(set LAMBDARAG_DYNAMODB_BLOB_BUCKET)"
            )
        else:
            blob = blob_key(item["pk"], item["sk"])
            self.blob_store.put(blob, text.encode("utf-8"))
            item["b"] = blob
        return to_wire(item)

    def unpack(self, item: Item) -> Any:
        """The value of a read item (inline or from the blob store)."""
        if "d" in item:
            return json.loads(item["d"])
        if self.blob_store is None:
            raise StorageError(f"item {item.get('sk')!r} points to blob {item['b']!r} "
                               "but no blob store is configured")
        return json.loads(self.blob_store.get(item["b"]).decode("utf-8"))

    # -- batches ------------------------------------------------------------

    def get_many_sync(
        self, keys: Iterable[Key], attributes: Sequence[str] | None = None
    ) -> dict[Key, Item]:
        """Items by key (strongly consistent), in chunks of 100, retrying unprocessed keys."""
        wanted = list(dict.fromkeys(keys))  # BatchGetItem rejects duplicate keys
        found: dict[Key, Item] = {}
        for start in range(0, len(wanted), READ_BATCH):
            request: dict[str, Any] = {
                "Keys": [to_wire({"pk": pk, "sk": sk}) for pk, sk in wanted[start : start + READ_BATCH]],
                "ConsistentRead": True,
            }
            if attributes is not None:
                names = {f"#a{i}": name for i, name in enumerate(["pk", "sk", *attributes])}
                request["ProjectionExpression"] = ", ".join(names)
                request["ExpressionAttributeNames"] = names
            pending: dict[str, Any] = {self.name: request}

            def read() -> None:
                nonlocal pending
                response = self.client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self.name, []):
                    item = from_wire(raw)
                    found[(item["pk"], item["sk"])] = item
                pending = response.get("UnprocessedKeys") or {}
                if pending:
                    raise _Unprocessed

            try:
                self._batch_retrying()(read)
            except _Unprocessed:
                raise StorageError(
                    f"DynamoDB kept keys of {self.name} unprocessed; retry later"
                ) from None
        return found

    def write_many_sync(
        self, puts: Sequence[dict[str, Any]] = (), deletes: Sequence[Key] = ()
    ) -> None:
        """Put wire items and delete keys in chunks of 25, retrying unprocessed items.

        A key may appear once per call (BatchWriteItem rejects duplicates): later puts of
        the same key win, and deleting a key that is also put is the caller's error.
        """
        by_key: dict[Key, dict[str, Any]] = {}
        for item in puts:
            by_key[(item["pk"]["S"], item["sk"]["S"])] = {"PutRequest": {"Item": item}}
        for pk, sk in deletes:
            by_key.setdefault((pk, sk), {"DeleteRequest": {"Key": to_wire({"pk": pk, "sk": sk})}})
        requests = list(by_key.values())
        for start in range(0, len(requests), WRITE_BATCH):
            pending: dict[str, Any] = {self.name: requests[start : start + WRITE_BATCH]}

            def write() -> None:
                nonlocal pending
                pending = self.client.batch_write_item(RequestItems=pending).get(
                    "UnprocessedItems"
                ) or {}
                if pending:
                    raise _Unprocessed

            try:
                self._batch_retrying()(write)
            except _Unprocessed:
                raise StorageError(
                    f"DynamoDB kept writes to {self.name} unprocessed; retry later"
                ) from None

    def _batch_retrying(self) -> Retrying:
        """The engine's retry policy for re-sending a batch's unprocessed part."""
        return retrying_sync(retry_on=_Unprocessed, attempts=self.settings.batch_attempts,
                             backoff=_BATCH_BACKOFF)

    def swap_sync(self, key: Key, wire: dict[str, Any] | None, expected: str | None) -> None:
        """Put ``wire`` (delete ``key`` when None) only if the item is at version ``expected``.

        Blobs are not cleaned up here: compare-and-set values are small by design.
        """
        if expected is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "v = :expected",
                "ExpressionAttributeValues": {":expected": {"S": expected}},
            }
        try:
            if wire is None:
                self.client.delete_item(
                    TableName=self.name, Key=to_wire({"pk": key[0], "sk": key[1]}), **condition
                )
            else:
                self.client.put_item(TableName=self.name, Item=wire, **condition)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise VersionConflictError(
                f"{key[1]}: the stored version is no longer {expected}"
            ) from exc

    def delete_items_sync(self, items: Sequence[Item]) -> None:
        """Delete read items and the blobs they point to."""
        self.write_many_sync(deletes=[(item["pk"], item["sk"]) for item in items])
        blobs = [item["b"] for item in items if "b" in item]
        if blobs and self.blob_store is not None:
            self.blob_store.delete(blobs)

    def delete_keys_sync(self, keys: Sequence[Key]) -> None:
        """Delete items by key, and their blobs when a blob store is configured."""
        if not keys:
            return
        if self.blob_store is None:
            self.write_many_sync(deletes=keys)
            return
        found = self.get_many_sync(keys, ["b"])
        self.write_many_sync(deletes=keys)
        blobs = [item["b"] for item in found.values() if "b" in item]
        if blobs:
            self.blob_store.delete(blobs)

    def query_sync(
        self,
        value: str,
        *,
        index: str | None = None,
        sk_prefix: str | None = None,
        attributes: Sequence[str] | None = None,
        forward: bool = True,
    ) -> Iterator[Item]:
        """Every item of partition ``value`` (of the table or of ``index``), following pages.

        Table queries are strongly consistent; index queries cannot be (DynamoDB GSIs are
        eventually consistent), so callers re-check what they read from an index.
        """
        hash_key = "pk" if index is None else INDEXES[index][0]
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "#h = :h",
            "ExpressionAttributeNames": {"#h": hash_key},
            "ExpressionAttributeValues": {":h": {"S": value}},
            "ScanIndexForward": forward,
        }
        if index is None:
            request["ConsistentRead"] = True
        else:
            request["IndexName"] = index
        if sk_prefix is not None:
            request["KeyConditionExpression"] += " AND begins_with(#s, :s)"
            request["ExpressionAttributeNames"]["#s"] = "sk"
            request["ExpressionAttributeValues"][":s"] = {"S": sk_prefix}
        if attributes is not None:
            names = {f"#p{i}": name for i, name in enumerate(["pk", "sk", *attributes])}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"].update(names)
        while True:
            response = self.client.query(**request)
            for raw in response.get("Items", []):
                yield from_wire(raw)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def delete_partition_sync(self, pk: str) -> int:
        """Delete every item of partition ``pk`` (and their blobs); returns how many."""
        items = list(self.query_sync(pk, attributes=["b"]))
        self.delete_items_sync(items)
        return len(items)


def _active(table: dict[str, Any]) -> bool:
    indexes = table.get("GlobalSecondaryIndexes", [])
    return table.get("TableStatus") == "ACTIVE" and all(
        index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes)


def check_definition(table: dict[str, Any]) -> None:
    """Refuse a table whose keys or indexes differ from :func:`table_definition`, by name."""
    name = table.get("TableName", "?")
    wanted = table_definition(name)
    if table.get("KeySchema") != wanted["KeySchema"]:
        raise StorageError(
            f"DynamoDB table {name} has the key schema {table.get('KeySchema')} but the adapter "
            "needs pk (HASH) + sk (RANGE): use another LAMBDARAG_DYNAMODB_TABLE"
        )
    present = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
    missing = sorted(set(INDEXES) - present)
    if missing:
        raise StorageError(
            f"DynamoDB table {name} lacks the global secondary indexes {', '.join(missing)}: "
            "deploy the SAM template's table, or use another LAMBDARAG_DYNAMODB_TABLE"
        )


def blob_key(pk: str, sk: str) -> str:
    """The blob of item (pk, sk): fixed per item, so a rewrite overwrites it."""
    return hashlib.sha256(f"{pk}\n{sk}".encode()).hexdigest() + ".json"


def to_wire(item: Item) -> dict[str, Any]:
    return {name: {"S": value} for name, value in item.items()}


def from_wire(raw: dict[str, Any]) -> Item:
    return {name: value["S"] for name, value in raw.items() if "S" in value}


# DynamoDB's error codes by what they mean for the caller (botocore's adaptive mode has
# already retried the throttling and transient ones max_attempts times).
_UNAVAILABLE = ("ResourceNotFoundException", "UnrecognizedClientException",
                "AccessDeniedException", "InvalidSignatureException", "InternalServerError",
                "ServiceUnavailable", "ResourceInUseException")
_THROTTLED = ("ProvisionedThroughputExceededException", "ThrottlingException",
              "RequestLimitExceeded", "LimitExceededException")
_CONFLICTS = ("ConditionalCheckFailedException", "TransactionConflictException")


def translate(exc: Any, table: str) -> StorageError:
    """A botocore ClientError as the storage error that says what it means, naming the table."""
    error = exc.response.get("Error", {})
    code, message = error.get("Code", ""), error.get("Message", "")
    if code in _THROTTLED:
        return StoreThrottledError(f"DynamoDB table {table} is throttling requests: {code}: "
                                   f"{message}")
    if code in _CONFLICTS:
        return VersionConflictError(f"DynamoDB table {table}: {code}: {message}")
    if code in _UNAVAILABLE:
        return StoreUnavailableError(f"DynamoDB table {table}: {code}: {message}")
    return StorageError(f"DynamoDB request on {table} failed: {code}: {message}")


def _truncate(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form has at most ``limit`` bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


class _Unprocessed(Exception):  # noqa: N818 - a signal to the retry policy, never raised out
    """DynamoDB left part of a batch unprocessed (throttled); the rest is to be sent again."""
