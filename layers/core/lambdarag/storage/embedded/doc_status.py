"""Document lifecycle rows with indexed listing columns and the whole record as JSON."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any, cast

from lambdarag.storage.base import DocPage, DocStatusRecord, DocStatusStorage
from lambdarag.storage.embedded.db import Database, chunked, placeholders

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS doc_status (
    id TEXT PRIMARY KEY,
    status TEXT,
    file_path TEXT,
    track_id TEXT,
    content_hash TEXT,
    created_at TEXT,
    updated_at TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS doc_status_status ON doc_status (status);
CREATE INDEX IF NOT EXISTS doc_status_track_id ON doc_status (track_id);
CREATE INDEX IF NOT EXISTS doc_status_file_path ON doc_status (file_path, id);
CREATE INDEX IF NOT EXISTS doc_status_content_hash ON doc_status (content_hash);
CREATE INDEX IF NOT EXISTS doc_status_created_at ON doc_status (created_at, id);
CREATE INDEX IF NOT EXISTS doc_status_updated_at ON doc_status (updated_at, id);
"""

_COLUMNS = ("id", "status", "file_path", "track_id", "content_hash", "created_at", "updated_at")


class SqliteDocStatusStorage(DocStatusStorage):
    """The ``doc_status`` table: listing columns are copies of the record's fields."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, doc_id: str) -> DocStatusRecord | None:
        return (await self.get_many([doc_id]))[0]

    async def get_many(self, doc_ids: Sequence[str]) -> list[DocStatusRecord | None]:
        found = await self._db.read(lambda conn: _fetch_by_ids(conn, list(doc_ids)))
        return [found.get(doc_id) for doc_id in doc_ids]

    async def upsert(self, records: Sequence[DocStatusRecord]) -> None:
        if not records:
            return
        sql = (
            f"INSERT OR REPLACE INTO doc_status ({', '.join(_COLUMNS)}, data) "
            f"VALUES ({placeholders(len(_COLUMNS) + 1)})"
        )
        await self._db.write(lambda conn: conn.executemany(sql, [_row(r) for r in records]))

    async def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        rows = [(doc_id,) for doc_id in doc_ids]
        await self._db.write(
            lambda conn: conn.executemany("DELETE FROM doc_status WHERE id = ?", rows)
        )

    async def by_status(self, statuses: Sequence[str]) -> list[DocStatusRecord]:
        wanted = list(dict.fromkeys(statuses))
        if not wanted:
            return []
        sql = (
            f"SELECT data FROM doc_status WHERE status IN ({placeholders(len(wanted))}) ORDER BY id"
        )
        return await self._db.read(lambda conn: _records(conn.execute(sql, wanted)))

    async def status_counts(self) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) FROM doc_status GROUP BY status"
        rows = await self._db.read(lambda conn: conn.execute(sql).fetchall())
        return {status: count for status, count in rows}

    async def _page(
        self, wanted: list[str], page: int, page_size: int, sort_field: str, sort_direction: str
    ) -> DocPage:
        where = f"WHERE status IN ({placeholders(len(wanted))})" if wanted else ""
        order = f"{sort_field} {sort_direction}"
        if sort_field != "id":
            order += f", id {sort_direction}"
        offset = (page - 1) * page_size

        def read(conn: sqlite3.Connection) -> DocPage:
            (total,) = conn.execute(f"SELECT COUNT(*) FROM doc_status {where}", wanted).fetchone()
            cursor = conn.execute(
                f"SELECT data FROM doc_status {where} ORDER BY {order} LIMIT ? OFFSET ?",
                (*wanted, page_size, offset),
            )
            return DocPage(documents=_records(cursor), total_count=total)

        return await self._db.read(read)

    async def drop(self) -> None:
        await self._db.clear("doc_status")
        logger.info("dropped doc_status")

    async def _by_field(self, column: str, value: str) -> list[DocStatusRecord]:
        sql = f"SELECT data FROM doc_status WHERE {column} = ? ORDER BY id"
        return await self._db.read(lambda conn: _records(conn.execute(sql, (value,))))


def _row(record: DocStatusRecord) -> tuple[Any, ...]:
    if not record.get("id"):
        raise ValueError(f"doc status record without id: {record!r}")
    fields = cast(dict[str, Any], record)
    return (*(fields.get(column) for column in _COLUMNS), json.dumps(record, ensure_ascii=False))


def _records(cursor: sqlite3.Cursor) -> list[DocStatusRecord]:
    return [json.loads(data) for (data,) in cursor]


def _fetch_by_ids(conn: sqlite3.Connection, doc_ids: list[str]) -> dict[str, DocStatusRecord]:
    found: dict[str, DocStatusRecord] = {}
    for batch in chunked(doc_ids):
        cursor = conn.execute(
            f"SELECT id, data FROM doc_status WHERE id IN ({placeholders(len(batch))})", batch
        )
        found.update((doc_id, json.loads(data)) for doc_id, data in cursor)
    return found
