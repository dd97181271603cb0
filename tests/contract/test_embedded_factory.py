"""Embedded backend only: file layout, store caching and failure modes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from lambdarag.storage.base import StorageError, StoreUnavailableError
from lambdarag.storage.embedded import EmbeddedStorageFactory


@pytest.mark.parametrize(
    ("workspace", "relative"),
    [("team-a", "team-a/lambdarag.sqlite3"), ("", "lambdarag.sqlite3")],
)
async def test_one_database_file_per_workspace(
    tmp_path: Path, workspace: str, relative: str
) -> None:
    factory = EmbeddedStorageFactory(tmp_path / "nested" / "dir", workspace)
    await factory.kv("full_docs").upsert({"k": {}})
    await factory.close()

    database = tmp_path / "nested" / "dir" / relative
    assert database.is_file()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_stores_are_cached_per_factory(tmp_path: Path) -> None:
    factory = EmbeddedStorageFactory(tmp_path, "ws")
    try:
        assert factory.kv("a") is factory.kv("a")
        assert factory.kv("a") is not factory.kv("b")
        assert factory.doc_status() is factory.doc_status()
        assert factory.fragments() is factory.fragments()
        assert factory.graph() is factory.graph()
        assert factory.vectors("chunks", 8) is factory.vectors("chunks", 8)
        with pytest.raises(StorageError):
            factory.vectors("chunks", 16)
    finally:
        await factory.close()


@pytest.mark.parametrize("workspace", ["../escape", "a/b", ".hidden", "sp ace"])
def test_unsafe_workspace_names_are_rejected(tmp_path: Path, workspace: str) -> None:
    with pytest.raises(ValueError):
        EmbeddedStorageFactory(tmp_path, workspace)


async def test_reopening_with_another_embedding_dim_is_explained(tmp_path: Path) -> None:
    # GIVEN 8-dimensional vectors stored in a workspace
    first = EmbeddedStorageFactory(tmp_path, "ws")
    await first.vectors("chunks", 8).upsert([{"id": "x"}], np.ones((1, 8)))
    await first.close()

    # WHEN the workspace is reopened with EMBEDDING_DIM 16
    store = EmbeddedStorageFactory(tmp_path, "ws").vectors("chunks", 16)

    # THEN queries and upserts say that the dimensions must match
    with pytest.raises(StorageError, match=r"8 dimensions.*16.*EMBEDDING_DIM"):
        await store.query(np.ones(16), 5)
    with pytest.raises(StorageError, match="EMBEDDING_DIM"):
        await store.upsert([{"id": "y"}], np.ones((1, 16)))


async def test_closed_factory_refuses_work(tmp_path: Path) -> None:
    factory = EmbeddedStorageFactory(tmp_path, "ws")
    kv = factory.kv("full_docs")
    await kv.upsert({"k": {}})

    await factory.close()
    await factory.close()

    with pytest.raises(StoreUnavailableError):
        await kv.get_by_id("k")


async def test_unopenable_location_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    factory = EmbeddedStorageFactory(blocker, "ws")
    try:
        with pytest.raises(StoreUnavailableError):
            await factory.kv("full_docs").keys()
    finally:
        await factory.close()


async def test_a_corrupt_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "lambdarag.sqlite3").write_bytes(b"this is not a database" * 100)
    factory = EmbeddedStorageFactory(tmp_path, "")
    try:
        with pytest.raises(StoreUnavailableError):
            await factory.graph().counts()
    finally:
        await factory.close()


async def test_a_graph_written_before_the_weight_column_is_migrated_on_open(
    tmp_path: Path,
) -> None:
    # GIVEN a file in the earlier layout: edges without a weight column, a plain tgt index
    path = tmp_path / "lambdarag.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE nodes (name TEXT PRIMARY KEY, props TEXT NOT NULL,"
            " degree INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE edges (src TEXT NOT NULL, tgt TEXT NOT NULL, props TEXT NOT NULL,"
            " PRIMARY KEY (src, tgt));"
            "CREATE INDEX edges_tgt ON edges (tgt);"
            "INSERT INTO nodes VALUES ('a', '{}', 2), ('b', '{}', 1), ('c', '{}', 1);"
            """INSERT INTO edges VALUES ('a', 'b', '{"weight": 1.0}'), ('a', 'c', '{"weight": 4.0}');"""
        )

    # WHEN the embedded store opens it and ranks a's edges
    factory = EmbeddedStorageFactory(tmp_path, "")
    try:
        ranked = await factory.graph().ranked_edges(["a"])
    finally:
        await factory.close()

    # THEN the old weights order the tie, and the file has the new column and indexes
    assert ranked == [(("a", "c"), 3), (("a", "b"), 3)]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT src, tgt, weight FROM edges ORDER BY tgt").fetchall() == [
            ("a", "b", 1.0), ("a", "c", 4.0)]
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"edges_src_rank", "edges_tgt_rank", "nodes_name_degree"} <= indexes
    assert "edges_tgt" not in indexes
