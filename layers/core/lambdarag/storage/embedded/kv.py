"""Namespaced key -> JSON object store in one SQLite table."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from lambdarag.storage.base import KVStorage, VersionConflictError, Versioned, value_version
from lambdarag.storage.embedded.db import Database, chunked, placeholders

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES_START, _SURROGATES_END = 0xD800, 0xDFFF


class SqliteKVStorage(KVStorage):
    """One namespace of the ``kv`` table; values are stored as JSON text."""

    def __init__(self, db: Database, namespace: str) -> None:
        self._db = db
        self.namespace = namespace

    async def get_by_id(self, key: str) -> dict[str, Any] | None:
        return (await self.get_by_ids([key]))[0]

    async def get_by_ids(self, keys: Sequence[str]) -> list[dict[str, Any] | None]:
        found = await self._db.read(lambda conn: self._fetch(conn, list(keys)))
        return [found.get(key) for key in keys]

    async def filter_keys(self, keys: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        present = await self._db.read(lambda conn: self._present(conn, wanted))
        return set(wanted) - present

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        if not data:
            return

        def write(conn: sqlite3.Connection) -> None:
            rows = [
                (self.namespace, key, json.dumps(value, ensure_ascii=False))
                for key, value in data.items()
            ]
            conn.executemany(
                "INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                rows,
            )

        await self._db.write(write)

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        rows = [(self.namespace, key) for key in keys]
        await self._db.write(
            lambda conn: conn.executemany("DELETE FROM kv WHERE namespace = ? AND key = ?", rows)
        )

    async def get_versioned(self, keys: Sequence[str]) -> list[Versioned]:
        values = await self.get_by_ids(keys)
        return [(v, None if v is None else value_version(v)) for v in values]

    async def put_if_version(
        self, key: str, value: dict[str, Any] | None, expected: str | None
    ) -> str | None:
        def swap(conn: sqlite3.Connection) -> str | None:
            # Inside BEGIN IMMEDIATE: no other connection (or process) writes meanwhile.
            current = self._fetch(conn, [key]).get(key)
            found = None if current is None else value_version(current)
            if found != expected:
                raise VersionConflictError(
                    f"{self.namespace}/{key}: expected version {expected}, found {found}"
                )
            if value is None:
                conn.execute("DELETE FROM kv WHERE namespace = ? AND key = ?",
                             (self.namespace, key))
                return None
            conn.execute(
                "INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                (self.namespace, key, json.dumps(value, ensure_ascii=False)),
            )
            return value_version(value)

        return await self._db.write(swap)

    async def keys(self, prefix: str = "") -> list[str]:
        return await self._db.read(lambda conn: self._keys(conn, prefix))

    async def drop(self) -> None:
        await self._db.write(
            lambda conn: conn.execute("DELETE FROM kv WHERE namespace = ?", (self.namespace,))
        )
        logger.info("dropped kv namespace %s", self.namespace)

    # -- executor thread -----------------------------------------------------

    def _fetch(self, conn: sqlite3.Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for batch in chunked(keys):
            cursor = conn.execute(
                f"SELECT key, value FROM kv WHERE namespace = ? AND key IN ({placeholders(len(batch))})",
                (self.namespace, *batch),
            )
            found.update((key, json.loads(value)) for key, value in cursor)
        return found

    def _present(self, conn: sqlite3.Connection, keys: list[str]) -> set[str]:
        present: set[str] = set()
        for batch in chunked(keys):
            cursor = conn.execute(
                f"SELECT key FROM kv WHERE namespace = ? AND key IN ({placeholders(len(batch))})",
                (self.namespace, *batch),
            )
            present.update(key for (key,) in cursor)
        return present

    def _keys(self, conn: sqlite3.Connection, prefix: str) -> list[str]:
        upper = _prefix_successor(prefix)
        if upper is None:
            cursor = conn.execute(
                "SELECT key FROM kv WHERE namespace = ? AND key >= ? ORDER BY key",
                (self.namespace, prefix),
            )
        else:
            cursor = conn.execute(
                "SELECT key FROM kv WHERE namespace = ? AND key >= ? AND key < ? ORDER BY key",
                (self.namespace, prefix, upper),
            )
        return [key for (key,) in cursor]


def _prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    None when there is no such bound (empty prefix, or only U+10FFFF characters).
    SQLite compares TEXT by UTF-8 bytes, which orders like code points.
    """
    stripped = prefix.rstrip(chr(_MAX_CODE_POINT))
    if not stripped:
        return None
    successor = ord(stripped[-1]) + 1
    if _SURROGATES_START <= successor <= _SURROGATES_END:  # not encodable in UTF-8
        successor = _SURROGATES_END + 1
    return stripped[:-1] + chr(successor)
