"""KV namespaces in the DynamoDB table: one partition per (workspace, namespace)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lambdarag.storage.base import KVStorage, Versioned, value_version
from lambdarag.storage.dynamodb.table import DynamoTable, key_part, key_part_prefixes, partition

logger = logging.getLogger(__name__)


class DynamoKVStorage(KVStorage):
    """Items ``pk = partition(workspace, "kv", namespace)``, ``sk = key_part(key)``.

    The key itself is kept in ``k``; ``keys()`` sorts on it (sort keys of hashed long keys
    do not order like the keys), and a prefix listing is a ``begins_with`` query, not a scan.
    """

    def __init__(self, table: DynamoTable, workspace: str, namespace: str) -> None:
        self._table = table
        self.namespace = namespace
        self._pk = partition(workspace, "kv", namespace)

    async def get_by_id(self, key: str) -> dict[str, Any] | None:
        return (await self.get_by_ids([key]))[0]

    async def get_by_ids(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        if not keys:
            return []

        def read() -> list[dict[str, Any] | None]:
            found = self._table.get_many_sync((self._pk, key_part(key)) for key in keys)
            values = {sk: self._table.unpack(item) for (_, sk), item in found.items()}
            return [values.get(key_part(key)) for key in keys]

        return await self._table.run(read)

    async def filter_keys(self, keys: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return set()
        found = await self._table.run(
            self._table.get_many_sync, [(self._pk, key_part(key)) for key in wanted], ["k"]
        )
        present = {item["k"] for item in found.values()}
        return set(wanted) - present

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        if not data:
            return

        def write() -> None:
            items = [
                self._table.pack({"pk": self._pk, "sk": key_part(key), "k": key}, value)
                for key, value in data.items()
            ]
            self._table.write_many_sync(puts=items)

        await self._table.run(write)

    async def delete(self, keys: Sequence[str]) -> None:
        wanted = [(self._pk, key_part(key)) for key in dict.fromkeys(keys)]
        if wanted:
            await self._table.run(self._table.delete_keys_sync, wanted)

    async def get_versioned(self, keys: Sequence[str]) -> list[Versioned]:
        if not keys:
            return []

        def read() -> list[Versioned]:
            found = self._table.get_many_sync((self._pk, key_part(key)) for key in keys)
            by_sk = {sk: item for (_, sk), item in found.items()}
            result: list[Versioned] = []
            for key in keys:
                item = by_sk.get(key_part(key))
                if item is None:
                    result.append((None, None))
                else:
                    value = self._table.unpack(item)
                    result.append((value, item.get("v") or value_version(value)))
            return result

        return await self._table.run(read)

    async def put_if_version(
        self, key: str, value: dict[str, Any] | None, expected: str | None
    ) -> str | None:
        def write() -> str | None:
            item_key = (self._pk, key_part(key))
            if value is None:
                self._table.swap_sync(item_key, None, expected)
                return None
            wire = self._table.pack({"pk": self._pk, "sk": item_key[1], "k": key}, value)
            self._table.swap_sync(item_key, wire, expected)
            return wire["v"]["S"]

        return await self._table.run(write)

    async def keys(self, prefix: str = "") -> list[str]:
        def read() -> list[str]:
            found: set[str] = set()
            for sk_prefix in key_part_prefixes(prefix):
                items = self._table.query_sync(self._pk, sk_prefix=sk_prefix, attributes=["k"])
                found.update(item["k"] for item in items if item["k"].startswith(prefix))
            return sorted(found)

        return await self._table.run(read)

    async def ensure(self) -> None:
        await self._table.ensure()

    async def drop(self) -> None:
        count = await self._table.run(self._table.delete_partition_sync, self._pk)
        logger.info("dropped kv namespace %s (%d items)", self.namespace, count)
