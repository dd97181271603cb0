"""GraphStorage on Amazon Neptune (Gremlin, TinkerPop 3.7), bytecode only.

Layout, one workspace per ``_ws`` value, in a graph shared with other workspaces:

* a node is a vertex labelled ``entity`` with id ``<ws>|n|sha256(name)``: deterministic,
  injective (the digest has a fixed length, so the workspace is the rest) and safe for
  any name, whatever it holds; the name itself is the ``_name`` property;
* an edge is one ``related`` edge from the smaller name to the larger (``sorted_pair``)
  with id ``<ws>|e|sha256(json([src, tgt]))``;
* internal properties start with ``_`` (``_ws``, ``_name``, ``_degree``, ``_json``); a
  user key starting with ``_`` is stored with one more ``_`` in front;
* values are scalars: ``None`` is left out, lists and dicts are stored as JSON strings
  and their keys listed in ``_json`` so that reads decode them;
* ``_degree`` (distinct incident edges) is recomputed from ``bothE()`` inside every
  traversal that changes edges, so it is exact: a concurrent writer of the same vertex
  makes Neptune raise ConcurrentModificationException and the retry recomputes it.

Neptune rules (see ../shared/reference/local-aws.md): every vertex property is written
with ``Cardinality.single`` (also inside ``mergeV``), no lambdas, one traversal per
batch (one transaction), explicit ``order().by(...)``. Name ordering is done in Python:
Java compares UTF-16 code units, while the contract orders by code point.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from gremlin_python.process.graph_traversal import GraphTraversal, __
from gremlin_python.process.traversal import (
    Cardinality,
    CardinalityValue,
    Direction,
    Merge,
    Order,
    P,
    Scope,
    T,
)

from lambdarag.storage import base
from lambdarag.storage.base import GraphStorage, KnowledgeGraph, LevelWalk, StorageError
from lambdarag.storage.neptune.connection import GremlinRunner

logger = logging.getLogger(__name__)

Pair = tuple[str, str]
Item = TypeVar("Item")

VERTEX_LABEL = "entity"
EDGE_LABEL = "related"
WS, NAME, DEGREE, JSON_KEYS = "_ws", "_name", "_degree", "_json"
READ_BATCH = 500


# -- ids and property encoding --------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def vertex_id(workspace: str, name: str) -> str:
    return f"{workspace}|n|{_digest(name)}"


def edge_id(workspace: str, src: str, tgt: str) -> str:
    """The id of the undirected edge between ``src`` and ``tgt`` (either order)."""
    return f"{workspace}|e|{_digest(json.dumps(list(base.sorted_pair(src, tgt))))}"


def encode_props(props: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """User properties as Neptune scalars: no None, lists/dicts as JSON (keys in ``_json``)."""
    stored: dict[str, str | int | float | bool] = {}
    json_keys: list[str] = []
    for key, value in props.items():
        if value is None:
            continue
        stored_key = f"_{key}" if key.startswith("_") else key
        if isinstance(value, str | bool | int | float):
            stored[stored_key] = value
        else:
            stored[stored_key] = json.dumps(value, ensure_ascii=False)
            json_keys.append(key)
    if json_keys:
        stored[JSON_KEYS] = json.dumps(json_keys, ensure_ascii=False)
    return stored


def decode_props(stored: dict[Any, Any]) -> dict[str, Any]:
    """The inverse of :func:`encode_props` on an ``elementMap()`` (tokens are skipped)."""
    json_keys = set(json.loads(stored[JSON_KEYS])) if JSON_KEYS in stored else set()
    props: dict[str, Any] = {}
    for key, value in stored.items():
        if not isinstance(key, str) or (key.startswith("_") and not key.startswith("__")):
            continue
        user_key = key[1:] if key.startswith("__") else key
        props[user_key] = json.loads(value) if user_key in json_keys else value
    return props


def _single(values: dict[str, Any]) -> dict[str, Any]:
    return {key: CardinalityValue.single(value) for key, value in values.items()}


def _chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- traversal builders (pure: tests inspect their bytecode) ----------------------


def upsert_nodes_traversal(g: Any, workspace: str, nodes: dict[str, dict[str, Any]]) -> Any:
    """One ``mergeV`` per node; stale user properties are dropped (replace whole)."""
    traversal: Any = g
    for name, props in nodes.items():
        stored = encode_props(props)
        keep = [WS, NAME, DEGREE, *stored]
        create = {T.label: VERTEX_LABEL, **_single({WS: workspace, NAME: name, DEGREE: 0})}
        traversal = (
            traversal.merge_v({T.id: vertex_id(workspace, name)})
            .option(Merge.on_create, {**create, **_single(stored)})
            .option(Merge.on_match, _single(stored))
            .side_effect(__.properties().has_key_(P.without(keep)).drop())
        )
    return traversal


def upsert_edges_traversal(g: Any, workspace: str, edges: dict[Pair, dict[str, Any]]) -> Any:
    """One ``mergeE`` per edge, then the endpoints' degrees recomputed, in one traversal."""
    traversal: Any = g
    endpoints: dict[str, None] = {}
    for (src, tgt), props in edges.items():
        out_id, in_id = vertex_id(workspace, src), vertex_id(workspace, tgt)
        endpoints.update({out_id: None, in_id: None})
        stored = {WS: workspace, **encode_props(props)}
        match = {
            T.id: edge_id(workspace, src, tgt),
            T.label: EDGE_LABEL,
            Direction.OUT: out_id,
            Direction.IN: in_id,
        }
        traversal = (
            traversal.merge_e(match)
            .option(Merge.on_create, stored)
            .option(Merge.on_match, stored)
            .side_effect(__.properties().has_key_(P.without(list(stored))).drop())
        )
    return _refresh_degrees(traversal.fold(), list(endpoints))


def _refresh_degrees(traversal: Any, vertex_ids: Sequence[str]) -> Any:
    if not vertex_ids:  # V() with no ids would mean every vertex
        return traversal
    return traversal.V(*vertex_ids).property(
        Cardinality.single, DEGREE, __.both_e().dedup().count()
    )


def delete_nodes_traversal(g: Any, vertex_ids: Sequence[str]) -> Any:
    """Drop the vertices (and so their edges), then recompute the neighbours' degrees."""
    return (
        g.V(*vertex_ids)
        .side_effect(
            __.both().not_(__.has_id(P.within(list(vertex_ids)))).aggregate(Scope.local, "nb")
        )
        .fold()
        .side_effect(__.unfold().drop())
        .select("nb")
        .unfold()
        .dedup()
        .property(Cardinality.single, DEGREE, __.both_e().dedup().count())
    )


def delete_edges_traversal(g: Any, edge_ids: Sequence[str], endpoint_ids: Sequence[str]) -> Any:
    return _refresh_degrees(g.E(*edge_ids).fold().side_effect(__.unfold().drop()), endpoint_ids)


def drop_batch_traversal(g: Any, workspace: str, size: int) -> Any:
    """Drop up to ``size`` vertices of the workspace; yields how many were dropped."""
    return (
        g.V()
        .has_label(VERTEX_LABEL)
        .has(WS, workspace)
        .limit(size)
        .fold()
        .side_effect(__.unfold().drop())
        .count(Scope.local)
    )


# -- the store ---------------------------------------------------------------------


class NeptuneGraphStorage(GraphStorage):
    """One workspace's graph on Neptune; see the module docstring for the layout.

    ``upsert_edges`` checks the endpoints first and raises :class:`StorageError` without
    writing when one is missing; batches are written one traversal (transaction) each.
    """

    def __init__(self, runner: GremlinRunner, workspace: str) -> None:
        self._runner = runner
        self.workspace = workspace
        self._batch = max(1, runner.config.batch_size)

    def _vid(self, name: str) -> str:
        return vertex_id(self.workspace, name)

    def _nodes(self, g: Any) -> GraphTraversal:
        return g.V().has_label(VERTEX_LABEL).has(WS, self.workspace)

    async def has_node(self, name: str) -> bool:
        return bool(await self._runner.run(lambda g: g.V(self._vid(name)).count().next()))

    async def get_nodes(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(names))
        found = await self._element_maps(wanted)
        return {name: decode_props(found[name]) for name in wanted if name in found}

    async def _element_maps(self, names: Sequence[str]) -> dict[str, dict[Any, Any]]:
        found: dict[str, dict[Any, Any]] = {}
        for batch in _chunks(names, READ_BATCH):
            ids = [self._vid(name) for name in batch]
            rows = await self._runner.run(lambda g, ids=ids: g.V(*ids).element_map().to_list())
            found.update((row[NAME], row) for row in rows)
        return found

    async def get_edges(self, pairs: Sequence[tuple[str, str]]) -> dict[Pair, dict[str, Any]]:
        wanted = list(dict.fromkeys(pairs))
        by_id = {edge_id(self.workspace, *pair): pair for pair in wanted}
        stored: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(by_id))
        for batch in _chunks(ids, READ_BATCH):
            rows = await self._runner.run(lambda g, b=batch: g.E(*b).element_map().to_list())
            stored.update((row[T.id], decode_props(row)) for row in rows)
        return {
            pair: stored[eid]
            for pair in wanted
            if (eid := edge_id(self.workspace, *pair)) in stored
        }

    async def node_degrees(self, names: Sequence[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(names))
        degrees: dict[str, int] = {}
        for batch in _chunks(wanted, READ_BATCH):
            ids = [self._vid(name) for name in batch]
            rows = await self._runner.run(
                lambda g, ids=ids: g.V(*ids).project("n", "d").by(NAME).by(DEGREE).to_list()
            )
            degrees.update((row["n"], int(row["d"])) for row in rows)
        return {name: degrees.get(name, 0) for name in wanted}

    async def node_edges(self, names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """(name, neighbour) per edge of each node, by neighbour name."""
        wanted = list(dict.fromkeys(names))
        neighbours: dict[str, list[str]] = {}
        for batch in _chunks(wanted, READ_BATCH):
            ids = [self._vid(name) for name in batch]
            rows = await self._runner.run(
                lambda g, ids=ids: (
                    g.V(*ids)
                    .project("n", "nb")
                    .by(NAME)
                    .by(__.both().dedup().values(NAME).fold())
                    .to_list()
                )
            )
            neighbours.update((row["n"], sorted(set(row["nb"]))) for row in rows)
        return {name: [(name, nb) for nb in neighbours.get(name, [])] for name in wanted}

    async def ranked_edges(self, names: Sequence[str]) -> list[tuple[Pair, int]]:
        """Ranked on the server from the endpoints' degree property: no properties travel."""
        rank: dict[Pair, int] = {}
        weights: dict[Pair, float] = {}
        for batch in _chunks(list(dict.fromkeys(names)), READ_BATCH):
            ids = [self._vid(name) for name in batch]
            rows = await self._runner.run(
                lambda g, ids=ids: (
                    g.V(*ids).both_e().dedup()
                    .project("a", "b", "w", "r")
                    .by(__.out_v().values(NAME))
                    .by(__.in_v().values(NAME))
                    .by(__.coalesce(__.values("weight"), __.constant(0.0)))
                    .by(__.both_v().values(DEGREE).sum_())
                    .to_list()
                )
            )
            for row in rows:
                pair = base.sorted_pair(row["a"], row["b"])
                rank[pair], weights[pair] = int(row["r"]), base.weight_of(row["w"])
        return [(pair, rank[pair]) for pair in base.best_edges(rank, weights)]

    async def upsert_nodes(self, nodes: dict[str, dict[str, Any]]) -> None:
        items = list(nodes.items())
        for batch in _chunks(items, self._batch):
            chunk = dict(batch)
            await self._runner.run(
                lambda g, c=chunk: upsert_nodes_traversal(g, self.workspace, c).iterate()
            )

    async def upsert_edges(self, edges: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Create or replace edges; raises StorageError (writing nothing) if an endpoint is missing."""
        rows = {base.sorted_pair(*pair): props for pair, props in edges.items()}
        if not rows:
            return
        endpoints = list({name for pair in rows for name in pair})
        missing = set(endpoints) - set(await self._existing(endpoints))
        if missing:
            raise StorageError(
                f"cannot upsert edges: endpoint nodes missing: {sorted(missing)[:10]}"
            )
        items = list(rows.items())
        for batch in _chunks(items, self._batch):
            chunk = dict(batch)
            await self._runner.run(
                lambda g, c=chunk: upsert_edges_traversal(g, self.workspace, c).iterate()
            )

    async def _existing(self, names: Sequence[str]) -> list[str]:
        found: list[str] = []
        for batch in _chunks(names, READ_BATCH):
            ids = [self._vid(name) for name in batch]
            found += await self._runner.run(lambda g, ids=ids: g.V(*ids).values(NAME).to_list())
        return found

    async def delete_nodes(self, names: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(names))
        for batch in _chunks(wanted, self._batch):
            ids = [self._vid(name) for name in batch]
            await self._runner.run(lambda g, ids=ids: delete_nodes_traversal(g, ids).iterate())

    async def delete_edges(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = list(dict.fromkeys(base.sorted_pair(*pair) for pair in pairs))
        for batch in _chunks(wanted, self._batch):
            eids = [edge_id(self.workspace, *pair) for pair in batch]
            vids = list(dict.fromkeys(self._vid(name) for pair in batch for name in pair))
            await self._runner.run(
                lambda g, e=eids, v=vids: delete_edges_traversal(g, e, v).iterate()
            )

    async def _all_names(self) -> list[str]:
        return await self._runner.run(lambda g: self._nodes(g).values(NAME).to_list())

    async def all_labels(self) -> list[str]:
        return sorted(await self._all_names())

    async def popular_labels(self, limit: int) -> list[str]:
        """Names by degree descending, then name ascending."""
        return [name for name, _ in await self._top_by_degree(limit)]

    async def _top_by_degree(self, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` best (name, degree), exactly ordered by (-degree, name).

        The server ranks by degree; the names tied at the cut are fetched in full and
        ordered here, as Java's string order is not the contract's code point order.
        """
        if limit <= 0:
            return []
        rows = await self._runner.run(
            lambda g: (
                self._nodes(g)
                .order()
                .by(DEGREE, Order.desc)
                .limit(limit)
                .project("n", "d")
                .by(NAME)
                .by(DEGREE)
                .to_list()
            )
        )
        ranked = [(row["n"], int(row["d"])) for row in rows]
        if len(ranked) == limit:
            cut = ranked[-1][1]
            ties = await self._runner.run(
                lambda g: self._nodes(g).has(DEGREE, cut).values(NAME).to_list()
            )
            ranked = [row for row in ranked if row[1] > cut] + [(name, cut) for name in ties]
        ranked.sort(key=lambda row: (-row[1], row[0]))
        return ranked[:limit]

    async def search_labels(self, query: str, limit: int) -> list[str]:
        """Case-insensitive substring matches, scored as the embedded store does.

        Gremlin has no case-insensitive match, so names are filtered here.
        """
        needle = query.lower().strip()
        if not needle or limit <= 0:
            return []
        names = [name for name in await self._all_names() if needle in name.lower()]
        return base.rank_labels(names, needle, limit)

    async def subgraph(self, label: str, max_depth: int, max_nodes: int) -> KnowledgeGraph:
        base.check_subgraph_args(max_depth, max_nodes)
        if label == "*":
            names = [name for name, _ in await self._top_by_degree(max_nodes)]
            (total, _) = await self.counts()
            truncated = total > max_nodes
        elif await self.has_node(label):
            names, truncated = await self._bfs(label, max_depth, max_nodes)
        else:
            return KnowledgeGraph()
        return await self._knowledge_graph(names, truncated)

    async def _bfs(self, start: str, max_depth: int, max_nodes: int) -> tuple[list[str], bool]:
        walk = LevelWalk(start, max_nodes)
        for frontier, limit in walk.levels(max_depth):
            candidates: dict[str, int] = {}
            for batch in _chunks(frontier, READ_BATCH):
                ids = [self._vid(name) for name in batch]
                rows = await self._runner.run(
                    lambda g, ids=ids: (
                        g.V(*ids).both().dedup().project("n", "d").by(NAME).by(DEGREE).to_list()
                    )
                )
                candidates.update((row["n"], int(row["d"])) for row in rows)
            walk.add(sorted((name for name in candidates if name not in walk.seen),
                            key=lambda name: (-candidates[name], name))[:limit])
        return walk.selected, walk.truncated

    async def _knowledge_graph(self, names: list[str], truncated: bool) -> KnowledgeGraph:
        maps = await self._element_maps(names)
        nodes = [
            {
                "id": name,
                "labels": [name],
                "properties": {**decode_props(maps.get(name, {})), "entity_id": name},
            }
            for name in names
        ]
        name_of = {self._vid(name): name for name in names}
        found: list[tuple[str, str, dict[str, Any]]] = []
        for batch in _chunks(names, READ_BATCH):
            ids = [self._vid(name) for name in batch]
            rows = await self._runner.run(
                lambda g, ids=ids: g.V(*ids).out_e(EDGE_LABEL).element_map().to_list()
            )
            for row in rows:
                src, tgt = name_of[row[Direction.OUT][T.id]], name_of.get(row[Direction.IN][T.id])
                if tgt is not None:
                    found.append((src, tgt, decode_props(row)))
        found.sort(key=lambda edge: (edge[0], edge[1]))
        edges = [
            {
                "id": f"{src}-{tgt}",
                "type": "DIRECTED",
                "source": src,
                "target": tgt,
                "properties": props,
            }
            for src, tgt, props in found
        ]
        return KnowledgeGraph(nodes=nodes, edges=edges, is_truncated=truncated)

    async def counts(self) -> tuple[int, int]:
        nodes = await self._runner.run(lambda g: self._nodes(g).count().next())
        edges = await self._runner.run(
            lambda g: g.E().has_label(EDGE_LABEL).has(WS, self.workspace).count().next()
        )
        return int(nodes), int(edges)

    async def drop(self) -> None:
        """Remove this workspace's vertices and edges, in bounded batches."""
        size = max(self._batch * 10, 100)
        while True:
            dropped = await self._runner.run(
                lambda g: drop_batch_traversal(g, self.workspace, size).next()
            )
            if dropped < size:
                break
        logger.info("dropped Neptune graph of workspace %r", self.workspace)
