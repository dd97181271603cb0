"""An undirected property graph in two SQLite tables with a maintained degree column."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from lambdarag.storage import base
from lambdarag.storage.base import GraphStorage, KnowledgeGraph, LevelWalk, StorageError
from lambdarag.storage.embedded.db import Database, chunked, placeholders

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    props TEXT NOT NULL,
    degree INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS nodes_degree ON nodes (degree DESC, name);
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL,
    tgt TEXT NOT NULL,
    props TEXT NOT NULL,
    PRIMARY KEY (src, tgt)
);
"""

# Ranking a hub's edges reads only these covering indexes: degree and weight sit in the
# rows after the properties, which for a hub are long enough to spill onto overflow pages.
INDEXES = """
CREATE INDEX IF NOT EXISTS nodes_name_degree ON nodes (name, degree);
CREATE INDEX IF NOT EXISTS edges_src_rank ON edges (src, tgt, weight);
CREATE INDEX IF NOT EXISTS edges_tgt_rank ON edges (tgt, src, weight);
DROP INDEX IF EXISTS edges_tgt;
"""


def add_weight_column(conn: sqlite3.Connection) -> None:
    """Give ``edges`` its ``weight`` column (a copy of the property), filled from the
    properties in files written before it existed."""
    if "weight" not in {row[1] for row in conn.execute("PRAGMA table_info(edges)")}:
        conn.execute("ALTER TABLE edges ADD COLUMN weight REAL NOT NULL DEFAULT 0")
        conn.execute("UPDATE edges SET weight = coalesce(json_extract(props, '$.weight'), 0)")

Pair = tuple[str, str]

# The unvisited neighbours of a frontier (?1, JSON array), excluding the
# already selected nodes (?2), best degree first, at most ?3 of them.
_NEXT_LEVEL_SQL = """
WITH frontier(name) AS (SELECT value FROM json_each(?1)),
neighbour(name) AS (
    SELECT e.tgt FROM frontier AS f JOIN edges AS e ON e.src = f.name
    UNION
    SELECT e.src FROM frontier AS f JOIN edges AS e ON e.tgt = f.name
)
SELECT n.name FROM neighbour AS nb JOIN nodes AS n ON n.name = nb.name
WHERE n.name NOT IN (SELECT value FROM json_each(?2))
ORDER BY n.degree DESC, n.name
LIMIT ?3
"""

# Every edge with both ends in ?1 (JSON array), found from its src. The unary
# "+" keeps the planner from probing the primary key once per (src, tgt) combination.
_EDGES_AMONG_SQL = """
SELECT e.src, e.tgt, e.props FROM json_each(?1) AS a JOIN edges AS e ON e.src = a.value
WHERE +e.tgt IN (SELECT value FROM json_each(?1))
ORDER BY e.src, e.tgt
"""

# The distinct edges touching ?1 (JSON array of names): pair, weight and rank (the sum
# of the endpoints' degrees), from the covering indexes of INDEXES alone.
_INCIDENT_SQL = """
WITH wanted(name) AS (SELECT DISTINCT value FROM json_each(?1)),
incident(src, tgt, weight) AS (
    SELECT e.src, e.tgt, e.weight
    FROM wanted AS w JOIN edges AS e INDEXED BY edges_src_rank ON e.src = w.name
    UNION
    SELECT e.src, e.tgt, e.weight
    FROM wanted AS w JOIN edges AS e INDEXED BY edges_tgt_rank ON e.tgt = w.name
)
SELECT i.src, i.tgt, i.weight, a.degree + b.degree
FROM incident AS i
JOIN nodes AS a INDEXED BY nodes_name_degree ON a.name = i.src
JOIN nodes AS b INDEXED BY nodes_name_degree ON b.name = i.tgt
"""

class SqliteGraphStorage(GraphStorage):
    """Nodes keyed by name, edges keyed by sorted pair (``src <= tgt``).

    ``degree`` counts a node's distinct edges (a self-loop counts once) and is
    updated in the same transaction as the edges, so it is always exact.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def has_node(self, name: str) -> bool:
        sql = "SELECT 1 FROM nodes WHERE name = ?"
        return await self._db.read(lambda conn: conn.execute(sql, (name,)).fetchone() is not None)

    async def get_nodes(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self._db.read(lambda conn: _node_props(conn, list(dict.fromkeys(names))))

    async def get_edges(self, pairs: Sequence[tuple[str, str]]) -> dict[Pair, dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> dict[Pair, dict[str, Any]]:
            found: dict[Pair, dict[str, Any]] = {}
            for pair in dict.fromkeys(pairs):
                row = conn.execute(
                    "SELECT props FROM edges WHERE src = ? AND tgt = ?", base.sorted_pair(*pair)
                ).fetchone()
                if row is not None:
                    found[pair] = json.loads(row[0])
            return found

        return await self._db.read(read)

    async def node_degrees(self, names: Sequence[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(names))
        degrees = await self._db.read(lambda conn: _degrees(conn, wanted))
        return {name: degrees.get(name, 0) for name in wanted}

    async def node_edges(self, names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """(name, neighbour) per edge of each node, by neighbour name."""

        def read(conn: sqlite3.Connection) -> dict[str, list[Pair]]:
            return {
                name: [(name, neighbour) for neighbour in _neighbours(conn, name)]
                for name in dict.fromkeys(names)
            }

        return await self._db.read(read)

    async def ranked_edges(self, names: Sequence[str]) -> list[tuple[Pair, int]]:
        """Ranked from the covering indexes alone: no edge's properties are decoded."""

        def read(conn: sqlite3.Connection) -> list[tuple[Pair, int]]:
            rank: dict[Pair, int] = {}
            weights: dict[Pair, float] = {}
            for src, tgt, weight, degrees in conn.execute(_INCIDENT_SQL, (json.dumps(list(names)),)):
                rank[src, tgt], weights[src, tgt] = degrees, weight
            return [(pair, rank[pair]) for pair in base.best_edges(rank, weights)]

        return await self._db.read(read)

    async def upsert_nodes(self, nodes: dict[str, dict[str, Any]]) -> None:
        if not nodes:
            return

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO nodes (name, props) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET props = excluded.props",
                [(name, json.dumps(props, ensure_ascii=False)) for name, props in nodes.items()],
            )

        await self._db.write(write)

    async def upsert_edges(self, edges: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Create or replace edges; raises StorageError (writing nothing) if an endpoint is missing."""
        if edges:
            await self._db.write(lambda conn: _upsert_edges(conn, edges))

    async def delete_nodes(self, names: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(names))
        if wanted:
            await self._db.write(lambda conn: _delete_nodes(conn, wanted))

    async def delete_edges(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = list(dict.fromkeys(base.sorted_pair(*pair) for pair in pairs))
        if wanted:
            await self._db.write(lambda conn: _delete_edges(conn, wanted))

    async def all_labels(self) -> list[str]:
        sql = "SELECT name FROM nodes ORDER BY name"
        return await self._db.read(lambda conn: [name for (name,) in conn.execute(sql)])

    async def popular_labels(self, limit: int) -> list[str]:
        sql = "SELECT name FROM nodes ORDER BY degree DESC, name LIMIT ?"
        return await self._db.read(
            lambda conn: [name for (name,) in conn.execute(sql, (max(limit, 0),))]
        )

    async def search_labels(self, query: str, limit: int) -> list[str]:
        """Case-insensitive substring matches, best first, then by name.

        Score: exact 1000, prefix 500, otherwise ``100 - len(name)`` plus 50 when
        the query also occurs right after a space or ``_``.
        """
        needle = query.lower().strip()
        if not needle or limit <= 0:
            return []
        sql = "SELECT name FROM nodes WHERE instr(unicode_lower(name), ?) > 0"

        def read(conn: sqlite3.Connection) -> list[str]:
            names = [name for (name,) in conn.execute(sql, (needle,))]
            return base.rank_labels(names, needle, limit)

        return await self._db.read(read)

    async def subgraph(self, label: str, max_depth: int, max_nodes: int) -> KnowledgeGraph:
        base.check_subgraph_args(max_depth, max_nodes)

        def read(conn: sqlite3.Connection) -> KnowledgeGraph:
            if label == "*":
                names, truncated = _top_nodes(conn, max_nodes)
            elif conn.execute("SELECT 1 FROM nodes WHERE name = ?", (label,)).fetchone():
                names, truncated = _bfs(conn, label, max_depth, max_nodes)
            else:
                return KnowledgeGraph()
            return _knowledge_graph(conn, names, truncated)

        return await self._db.read(read)

    async def counts(self) -> tuple[int, int]:
        def read(conn: sqlite3.Connection) -> tuple[int, int]:
            (nodes,) = conn.execute("SELECT COUNT(*) FROM nodes").fetchone()
            (edges,) = conn.execute("SELECT COUNT(*) FROM edges").fetchone()
            return int(nodes), int(edges)

        return await self._db.read(read)

    async def drop(self) -> None:
        await self._db.clear("edges", "nodes")
        logger.info("dropped graph")


# -- reads (database thread) -------------------------------------------------


def _node_props(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for batch in chunked(names):
        cursor = conn.execute(
            f"SELECT name, props FROM nodes WHERE name IN ({placeholders(len(batch))})", batch
        )
        found.update((name, json.loads(props)) for name, props in cursor)
    return found


def _degrees(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for batch in chunked(names):
        cursor = conn.execute(
            "SELECT name, degree FROM nodes INDEXED BY nodes_name_degree "
            f"WHERE name IN ({placeholders(len(batch))})",
            batch,
        )
        found.update(cursor)
    return found


def _neighbours(conn: sqlite3.Connection, name: str) -> list[str]:
    """Sorted neighbour names, via the primary key (src) and the tgt index."""
    cursor = conn.execute(
        "SELECT tgt FROM edges WHERE src = ? UNION SELECT src FROM edges WHERE tgt = ? ORDER BY 1",
        (name, name),
    )
    return [neighbour for (neighbour,) in cursor]


def _top_nodes(conn: sqlite3.Connection, max_nodes: int) -> tuple[list[str], bool]:
    cursor = conn.execute("SELECT name FROM nodes ORDER BY degree DESC, name LIMIT ?", (max_nodes,))
    names = [name for (name,) in cursor]
    (total,) = conn.execute("SELECT COUNT(*) FROM nodes").fetchone()
    return names, total > max_nodes


def _bfs(
    conn: sqlite3.Connection, start: str, max_depth: int, max_nodes: int
) -> tuple[list[str], bool]:
    """Level-by-level BFS; each level is one query ranking the new neighbours by degree."""
    walk = LevelWalk(start, max_nodes)
    for frontier, limit in walk.levels(max_depth):
        cursor = conn.execute(_NEXT_LEVEL_SQL,
                              (json.dumps(frontier), json.dumps(walk.selected), limit))
        walk.add([name for (name,) in cursor])
    return walk.selected, walk.truncated


def _knowledge_graph(conn: sqlite3.Connection, names: list[str], truncated: bool) -> KnowledgeGraph:
    props = _node_props(conn, names)
    nodes = [
        {"id": name, "labels": [name], "properties": {**props.get(name, {}), "entity_id": name}}
        for name in names
    ]
    edges = [
        {
            "id": f"{src}-{tgt}",
            "type": "DIRECTED",
            "source": src,
            "target": tgt,
            "properties": json.loads(edge_props),
        }
        for src, tgt, edge_props in conn.execute(_EDGES_AMONG_SQL, (json.dumps(names),))
    ]
    return KnowledgeGraph(nodes=nodes, edges=edges, is_truncated=truncated)


# -- writes (database thread, inside one transaction) ------------------------


def _upsert_edges(conn: sqlite3.Connection, edges: dict[Pair, dict[str, Any]]) -> None:
    rows = {
        base.sorted_pair(*pair): json.dumps(props, ensure_ascii=False) for pair, props in edges.items()
    }
    weights = {base.sorted_pair(*pair): base.weight_of(props.get("weight")) for pair, props in edges.items()}
    endpoints = list({name for pair in rows for name in pair})
    missing = set(endpoints) - set(_degrees(conn, endpoints))
    if missing:
        raise StorageError(f"cannot upsert edges: endpoint nodes missing: {sorted(missing)[:10]}")
    deltas: Counter[str] = Counter()
    for (src, tgt), props in rows.items():
        weight = weights[src, tgt]
        inserted = conn.execute(
            "INSERT INTO edges (src, tgt, props, weight) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (src, tgt) DO NOTHING",
            (src, tgt, props, weight),
        ).rowcount
        if inserted:
            deltas.update(_endpoints(src, tgt))
        else:
            conn.execute("UPDATE edges SET props = ?, weight = ? WHERE src = ? AND tgt = ?",
                         (props, weight, src, tgt))
    _apply_degree_deltas(conn, deltas)


def _delete_edges(conn: sqlite3.Connection, pairs: Iterable[Pair]) -> None:
    deltas: Counter[str] = Counter()
    for src, tgt in pairs:
        if conn.execute("DELETE FROM edges WHERE src = ? AND tgt = ?", (src, tgt)).rowcount:
            deltas.subtract(_endpoints(src, tgt))
    _apply_degree_deltas(conn, deltas)


def _delete_nodes(conn: sqlite3.Connection, names: list[str]) -> None:
    incident: set[Pair] = set()
    for name in names:
        incident.update((name, neighbour) for neighbour in _neighbours(conn, name))
    _delete_edges(conn, {base.sorted_pair(*pair) for pair in incident})
    for batch in chunked(names):
        conn.execute(f"DELETE FROM nodes WHERE name IN ({placeholders(len(batch))})", batch)


def _endpoints(src: str, tgt: str) -> list[str]:
    return [src] if src == tgt else [src, tgt]


def _apply_degree_deltas(conn: sqlite3.Connection, deltas: Counter[str]) -> None:
    conn.executemany(
        "UPDATE nodes SET degree = degree + ? WHERE name = ?",
        [(delta, name) for name, delta in deltas.items() if delta],
    )
