"""Vectors persisted in SQLite and searched exactly in an in-memory numpy matrix.

Cross-process freshness: every upsert or delete bumps the namespace's ``seq``
and stamps the rows it touches with it (deletions leave a tombstone row with
``deleted = 1`` and no vector). Before searching, a store compares
``PRAGMA data_version`` (which changes only when another connection commits)
and, if it changed, applies the rows with ``seq`` above the last one it saw.
``drop`` deletes the rows and bumps ``epoch``, which makes readers reload.

All in-memory state is touched only on the database thread, so it needs no locks.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from lambdarag.storage.base import (
    DIM_HINT,
    CheckedVectorStorage,
    StorageError,
    VectorHit,
    check_dim,
    normalise,
    unit_rows,
)
from lambdarag.storage.embedded.db import Database, chunked, placeholders, transaction
from lambdarag.storage.embedded.vector_index import VectorIndex

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS vector_namespaces (
    namespace TEXT PRIMARY KEY,
    dim INTEGER,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    doc_id TEXT,
    meta TEXT,
    vec BLOB,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, id)
);
CREATE INDEX IF NOT EXISTS vectors_seq ON vectors (namespace, seq);
CREATE INDEX IF NOT EXISTS vectors_live ON vectors (namespace, deleted);
"""

_FETCH_BATCH = 4096


@dataclass(frozen=True)
class _NamespaceState:
    dim: int | None
    seq: int
    epoch: int


@dataclass(frozen=True)
class _Batch:
    ids: list[str]
    doc_ids: list[str | None]
    metas: list[str]
    vectors: np.ndarray


class SqliteVectorStorage(CheckedVectorStorage):
    """One vector namespace; the matrix is loaded on the first query."""

    def __init__(self, db: Database, namespace: str, dim: int) -> None:
        self._db = db
        self.namespace = namespace
        self.dim = dim
        self._index: VectorIndex | None = None
        self._seen_seq = 0
        self._epoch = 0
        self._data_version = -1

    async def _upsert_rows(self, items: Sequence[dict[str, Any]], matrix: np.ndarray) -> None:
        await self._db.run(lambda conn: self._upsert_sync(conn, items, matrix))

    async def _search(
        self, flat: np.ndarray, top_k: int, threshold: float, doc_id: str | None
    ) -> list[VectorHit]:
        return await self._db.run(
            lambda conn: self._query_sync(conn, flat, top_k, threshold, doc_id)
        )

    async def get_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        def read(conn: sqlite3.Connection) -> list[dict[str, Any] | None]:
            rows = self._live_rows(conn, list(ids), "meta")
            return [json.loads(rows[i]) if i in rows else None for i in ids]

        return await self._db.read(read)

    async def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (unit-length, float32) vectors of the ids that exist."""

        def read(conn: sqlite3.Connection) -> dict[str, np.ndarray]:
            rows = self._live_rows(conn, list(ids), "vec")
            return {i: np.frombuffer(blob, dtype=np.float32).copy() for i, blob in rows.items()}

        return await self._db.read(read)

    async def preload(self) -> None:
        """Load the matrix now (about 2 s for 100,000 vectors of 1,024 dimensions)."""

        def load(conn: sqlite3.Connection) -> None:
            with self._synced(conn):
                pass

        await self._db.run(load)

    async def similarities(self, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Scored against the in-memory matrix (loaded and synced as for a query)."""
        flat = np.asarray(vector).reshape(-1)
        check_dim(self.namespace, self.dim, flat.shape[0])
        query = normalise(flat)

        def score(conn: sqlite3.Connection) -> dict[str, float]:
            with self._synced(conn) as index:
                return index.similarities(list(ids), query)

        return await self._db.run(score)

    async def delete(self, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        if unique:
            await self._db.run(lambda conn: self._delete_sync(conn, unique))

    async def count(self) -> int:
        sql = "SELECT COUNT(*) FROM vectors WHERE namespace = ? AND deleted = 0"
        (total,) = await self._db.read(lambda conn: conn.execute(sql, (self.namespace,)).fetchone())
        return int(total)

    async def drop(self) -> None:
        await self._db.run(self._drop_sync)
        logger.info("dropped vector namespace %s", self.namespace)


    # -- executor thread: writes ---------------------------------------------

    def _upsert_sync(
        self, conn: sqlite3.Connection, items: Sequence[dict[str, Any]], vectors: np.ndarray
    ) -> None:
        batch = _make_batch(items, vectors)
        data_version = _data_version(conn)
        with transaction(conn, "IMMEDIATE"):
            state = self._state(conn)
            self._check_stored_dim(state)
            if self._index is not None:
                self._refresh(conn, data_version)
            seq = self._bump_seq(conn, state, self.dim)
            conn.executemany(
                "INSERT INTO vectors (namespace, id, seq, doc_id, meta, vec, deleted) "
                "VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (namespace, id) DO UPDATE SET "
                "seq = excluded.seq, doc_id = excluded.doc_id, meta = excluded.meta, "
                "vec = excluded.vec, deleted = 0",
                [
                    (self.namespace, vector_id, seq, doc_id, meta, row.tobytes())
                    for vector_id, doc_id, meta, row in zip(
                        batch.ids, batch.doc_ids, batch.metas, batch.vectors, strict=True
                    )
                ],
            )
        self._after_commit(seq, lambda index: index.upsert(batch.ids, batch.doc_ids, batch.vectors))

    def _delete_sync(self, conn: sqlite3.Connection, ids: list[str]) -> None:
        data_version = _data_version(conn)
        with transaction(conn, "IMMEDIATE"):
            state = self._state(conn)
            if self._index is not None:
                self._refresh(conn, data_version)
            seq = self._bump_seq(conn, state, state.dim)
            for batch in chunked(ids):
                conn.execute(
                    "UPDATE vectors SET deleted = 1, vec = NULL, meta = NULL, doc_id = NULL, "
                    f"seq = ? WHERE namespace = ? AND id IN ({placeholders(len(batch))})",
                    (seq, self.namespace, *batch),
                )
        self._after_commit(seq, lambda index: index.remove(ids))

    def _drop_sync(self, conn: sqlite3.Connection) -> None:
        with transaction(conn, "IMMEDIATE"):
            state = self._state(conn)
            conn.execute("DELETE FROM vectors WHERE namespace = ?", (self.namespace,))
            conn.execute(
                "INSERT OR REPLACE INTO vector_namespaces (namespace, dim, seq, epoch) "
                "VALUES (?, NULL, ?, ?)",
                (self.namespace, state.seq, state.epoch + 1),
            )
        self._index = None

    def _bump_seq(self, conn: sqlite3.Connection, state: _NamespaceState, dim: int | None) -> int:
        seq = state.seq + 1
        conn.execute(
            "INSERT OR REPLACE INTO vector_namespaces (namespace, dim, seq, epoch) "
            "VALUES (?, ?, ?, ?)",
            (self.namespace, dim, seq, state.epoch),
        )
        return seq

    def _after_commit(self, seq: int, apply: Callable[[VectorIndex], None]) -> None:
        """Mirror a committed write into the loaded matrix (if any)."""
        if self._index is None:
            return
        try:
            apply(self._index)
        except BaseException:
            self._index = None  # half-applied: reload from the database on next use
            raise
        self._seen_seq = seq

    # -- executor thread: reads ----------------------------------------------

    def _query_sync(
        self,
        conn: sqlite3.Connection,
        vector: np.ndarray,
        top_k: int,
        threshold: float,
        doc_id: str | None,
    ) -> list[VectorHit]:
        query = normalise(vector)
        with self._synced(conn) as index:
            best = index.search(query, top_k, threshold, doc_id)
            metas = self._live_rows(conn, [vector_id for vector_id, _ in best], "meta")
        hits: list[VectorHit] = []
        for vector_id, score in best:
            if vector_id in metas:
                hits.append({**json.loads(metas[vector_id]), "id": vector_id, "score": score})
        return hits

    @contextmanager
    def _synced(self, conn: sqlite3.Connection) -> Iterator[VectorIndex]:
        """A read transaction and, within it, the matrix synced with everything committed."""
        data_version = _data_version(conn)
        with transaction(conn, "DEFERRED"):
            yield self._refresh(conn, data_version)

    def _refresh(self, conn: sqlite3.Connection, data_version: int) -> VectorIndex:
        """The matrix, synced with everything committed (call inside a transaction).

        ``data_version`` must be read before the transaction began: a commit that
        slips in between is then merely applied twice, never missed.
        """
        if self._index is not None and data_version == self._data_version:
            return self._index
        state = self._state(conn)
        try:
            if self._index is None or state.epoch != self._epoch:
                index = self._load(conn, state)
            else:
                index = self._pull(conn, self._index, state)
        except BaseException:
            self._index = None
            raise
        self._data_version = data_version
        return index

    def _load(self, conn: sqlite3.Connection, state: _NamespaceState) -> VectorIndex:
        self._check_stored_dim(state)
        (live,) = conn.execute(
            "SELECT COUNT(*) FROM vectors WHERE namespace = ? AND deleted = 0", (self.namespace,)
        ).fetchone()
        index = VectorIndex(self.dim)
        index.reserve(live)
        cursor = conn.execute(
            "SELECT id, doc_id, vec, deleted FROM vectors WHERE namespace = ? AND deleted = 0",
            (self.namespace,),
        )
        self._apply_rows(index, cursor)
        self._index, self._epoch, self._seen_seq = index, state.epoch, state.seq
        logger.debug("loaded %d vectors of %s", len(index), self.namespace)
        return index

    def _pull(
        self, conn: sqlite3.Connection, index: VectorIndex, state: _NamespaceState
    ) -> VectorIndex:
        cursor = conn.execute(
            "SELECT id, doc_id, vec, deleted FROM vectors WHERE namespace = ? AND seq > ?",
            (self.namespace, self._seen_seq),
        )
        self._apply_rows(index, cursor)
        self._seen_seq = state.seq
        return index

    def _apply_rows(self, index: VectorIndex, cursor: sqlite3.Cursor) -> None:
        """Apply (id, doc_id, vec, deleted) rows in bounded batches."""
        while rows := cursor.fetchmany(_FETCH_BATCH):
            removed: list[str] = []
            ids: list[str] = []
            doc_ids: list[str | None] = []
            blobs: list[bytes] = []
            for vector_id, doc_id, blob, deleted in rows:
                if deleted:
                    removed.append(vector_id)
                else:
                    ids.append(vector_id)
                    doc_ids.append(doc_id)
                    blobs.append(blob)
            index.remove(removed)
            index.upsert(ids, doc_ids, self._decode(blobs))

    def _live_rows(self, conn: sqlite3.Connection, ids: list[str], column: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for batch in chunked(ids):
            cursor = conn.execute(
                f"SELECT id, {column} FROM vectors WHERE namespace = ? AND +deleted = 0 "
                f"AND id IN ({placeholders(len(batch))})",
                (self.namespace, *batch),
            )
            found.update(cursor)
        return found

    def _state(self, conn: sqlite3.Connection) -> _NamespaceState:
        row = conn.execute(
            "SELECT dim, seq, epoch FROM vector_namespaces WHERE namespace = ?", (self.namespace,)
        ).fetchone()
        return _NamespaceState(*row) if row else _NamespaceState(dim=None, seq=0, epoch=0)

    def _check_stored_dim(self, state: _NamespaceState) -> None:
        if state.dim is not None and state.dim != self.dim:
            raise StorageError(
                f"{self.namespace}: the stored vectors have {state.dim} dimensions but "
                f"{self.dim} were configured; {DIM_HINT} (or drop the namespace to re-embed)"
            )

    def _decode(self, blobs: list[bytes]) -> np.ndarray:
        width = self.dim * np.dtype(np.float32).itemsize
        if any(len(blob) != width for blob in blobs):
            raise StorageError(f"{self.namespace}: stored vector size mismatch; {DIM_HINT}")
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), self.dim)


def _make_batch(items: Sequence[dict[str, Any]], vectors: np.ndarray) -> _Batch:
    """Validated, de-duplicated (last wins) rows with unit-length vectors."""
    last, unit = unit_rows(items, vectors)
    picked = [items[position] for position in last.values()]
    return _Batch(
        ids=list(last),
        doc_ids=[item.get("full_doc_id") for item in picked],
        metas=[json.dumps(item, ensure_ascii=False) for item in picked],
        vectors=unit,
    )


def _data_version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA data_version").fetchone()
    return int(version)
