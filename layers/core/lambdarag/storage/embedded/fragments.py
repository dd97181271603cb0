"""Per-chunk extraction fragments keyed (entity, chunk) and (sorted pair, chunk)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from lambdarag.storage.base import EntityFragment, FragmentStorage, RelationFragment, sorted_pair
from lambdarag.storage.embedded.db import Database, chunked, placeholders

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS entity_fragments (
    entity_name TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (entity_name, chunk_id)
);
CREATE INDEX IF NOT EXISTS entity_fragments_chunk ON entity_fragments (chunk_id);
CREATE TABLE IF NOT EXISTS relation_fragments (
    src TEXT NOT NULL,
    tgt TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (src, tgt, chunk_id)
);
CREATE INDEX IF NOT EXISTS relation_fragments_chunk ON relation_fragments (chunk_id);
"""

Pair = tuple[str, str]


class SqliteFragmentStorage(FragmentStorage):
    """Fragments in two tables; a chunk's rows are replaced as a unit.

    Within one chunk, a repeated entity name or pair keeps the last fragment given.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_chunk_fragments(self, chunk_id: str, entities: Sequence[EntityFragment],
                                  relations: Sequence[RelationFragment]) -> None:

        def write(conn: sqlite3.Connection) -> None:
            entity_rows = [_entity_row(chunk_id, fragment) for fragment in entities]
            relation_rows = [_relation_row(chunk_id, fragment) for fragment in relations]
            _delete_chunks(conn, [chunk_id])
            conn.executemany(
                "INSERT OR REPLACE INTO entity_fragments (entity_name, chunk_id, data) "
                "VALUES (?, ?, ?)",
                entity_rows,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO relation_fragments (src, tgt, chunk_id, data) "
                "VALUES (?, ?, ?, ?)",
                relation_rows,
            )

        await self._db.write(write)

    async def entity_fragments(self, names: Sequence[str]) -> dict[str, list[EntityFragment]]:
        wanted = list(dict.fromkeys(names))

        def read(conn: sqlite3.Connection) -> dict[str, list[EntityFragment]]:
            found: dict[str, list[EntityFragment]] = {name: [] for name in wanted}
            for batch in chunked(wanted):
                cursor = conn.execute(
                    "SELECT entity_name, data FROM entity_fragments "
                    f"WHERE entity_name IN ({placeholders(len(batch))})",
                    batch,
                )
                for name, data in cursor:
                    found[name].append(json.loads(data))
            return {name: _ordered(fragments) for name, fragments in found.items()}

        return await self._db.read(read)

    async def relation_fragments(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[RelationFragment]]:
        """Fragments keyed by the sorted pair, whichever orientation was asked for."""
        wanted = list(dict.fromkeys(sorted_pair(*pair) for pair in pairs))

        def read(conn: sqlite3.Connection) -> dict[Pair, list[RelationFragment]]:
            found: dict[Pair, list[RelationFragment]] = {}
            for src, tgt in wanted:
                cursor = conn.execute(
                    "SELECT data FROM relation_fragments WHERE src = ? AND tgt = ?", (src, tgt)
                )
                found[(src, tgt)] = _ordered([json.loads(data) for (data,) in cursor])
            return found

        return await self._db.read(read)

    async def keys_for_chunks(
        self, chunk_ids: Sequence[str]
    ) -> tuple[set[str], set[tuple[str, str]]]:
        wanted = list(dict.fromkeys(chunk_ids))

        def read(conn: sqlite3.Connection) -> tuple[set[str], set[Pair]]:
            names: set[str] = set()
            pairs: set[Pair] = set()
            for batch in chunked(wanted):
                marks = placeholders(len(batch))
                names.update(
                    name
                    for (name,) in conn.execute(
                        f"SELECT entity_name FROM entity_fragments WHERE chunk_id IN ({marks})",
                        batch,
                    )
                )
                pairs.update(
                    (src, tgt)
                    for src, tgt in conn.execute(
                        f"SELECT src, tgt FROM relation_fragments WHERE chunk_id IN ({marks})",
                        batch,
                    )
                )
            return names, pairs

        return await self._db.read(read)

    async def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(chunk_ids))
        if wanted:
            await self._db.write(lambda conn: _delete_chunks(conn, wanted))

    async def drop(self) -> None:
        await self._db.clear("entity_fragments", "relation_fragments")
        logger.info("dropped fragments")


def _entity_row(chunk_id: str, fragment: EntityFragment) -> tuple[str, str, str]:
    name = fragment.get("entity_name")
    if not name:
        raise ValueError(f"entity fragment without entity_name: {fragment!r}")
    data = {**fragment, "chunk_id": chunk_id}
    return name, chunk_id, json.dumps(data, ensure_ascii=False)


def _relation_row(chunk_id: str, fragment: RelationFragment) -> tuple[str, str, str, str]:
    src, tgt = fragment.get("src_id"), fragment.get("tgt_id")
    if not src or not tgt:
        raise ValueError(f"relation fragment without src_id/tgt_id: {fragment!r}")
    src, tgt = sorted_pair(src, tgt)
    data = {**fragment, "src_id": src, "tgt_id": tgt, "chunk_id": chunk_id}
    return src, tgt, chunk_id, json.dumps(data, ensure_ascii=False)


def _delete_chunks(conn: sqlite3.Connection, chunk_ids: Sequence[str]) -> None:
    for batch in chunked(chunk_ids):
        marks = placeholders(len(batch))
        conn.execute(f"DELETE FROM entity_fragments WHERE chunk_id IN ({marks})", batch)
        conn.execute(f"DELETE FROM relation_fragments WHERE chunk_id IN ({marks})", batch)


def _ordered(fragments: list[Any]) -> list[Any]:
    """Fragments of one key by (timestamp, chunk_id)."""
    return sorted(
        fragments, key=lambda fragment: (fragment.get("timestamp") or 0, fragment["chunk_id"])
    )
