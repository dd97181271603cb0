"""GraphStorage on DynamoDB: an adjacency list in a table of its own, with kept degrees.

Layout (``P(...)`` is :func:`~lambdarag.storage.dynamodb.table.partition`, ``kp`` is
:func:`~lambdarag.storage.dynamodb.table.key_part`; every attribute is a string):

=====================================  ==========  ======================================
pk                                     sk          attributes
=====================================  ==========  ======================================
``P(ws, "gnode", name)``               ``n``       ``nm`` name, ``d`` properties (JSON)
``P(ws, "gnode", name)``               ``a`` kp(nb)  ``nb``, ``w`` the edge's weight: one per
                                                   neighbour, tiny
``P(ws, "gnode", src)``                ``e`` kp(tgt) ``s``, ``t``, ``d``: the edge, kept once,
                                                   under its smaller endpoint
``P(ws, "glabel")``                    kp(name)    ``nm``, ``g`` degree, ``lp`` self-loop,
                                                   ``r`` revision, ``gp``/``gd`` the keys
                                                   of the ``graph-degree`` index
=====================================  ==========  ======================================

Reads. A node's neighbours are one Query of its ``a`` items (about 100 bytes each, so a hub
of 1,000 edges reads some 25 read units, never its edges' descriptions); so is ranking a
node's edges (``ranked_edges``: the weights are on the ``a`` items); nodes, edges and
degrees are BatchGetItem by key; labels are one Query of the workspace's label partition;
popular labels are one Query of the sparse ``graph-degree`` index (``gd`` is the degree,
inverted and zero-padded, so ascending order is by degree descending), with the names tied
at the cut read in full so ties go by name as the contract says. The index is eventually
consistent: popular labels may trail a write by a moment; everything else is strongly
consistent.

Degrees under concurrency. After edges change, each endpoint's degree is recomputed from
its ``a`` items and written with a compare-and-set on the label item's revision ``r``: a
writer that read an older revision loses, counts again and retries. The last write always
counted after every adjacency write before it, so degrees are exact however many merges
touch a hub at once, and a writer that died half-way is repaired by the next change.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from lambdarag.storage.base import (
    GraphStorage,
    KnowledgeGraph,
    LevelWalk,
    StorageError,
    VersionConflictError,
    best_edges,
    check_subgraph_args,
    rank_labels,
    sorted_pair,
    weight_of,
)
from lambdarag.storage.dynamodb.table import DynamoTable, Item, Key, key_part, partition, to_wire

logger = logging.getLogger(__name__)

Pair = tuple[str, str]
DEGREE_INDEX = "graph-degree"
_DEGREE_WIDTH = 12
_MAX_DEGREE = 10**_DEGREE_WIDTH - 1
NODE, ADJ, EDGE = "n", "a", "e"
CAS_ATTEMPTS = 12


def graph_definition(table: str) -> dict[str, Any]:
    """The CreateTable request of the graph table: the SAM template declares the same."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"}
                                 for name in ("pk", "sk", "gp", "gd")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": DEGREE_INDEX,
            "KeySchema": [{"AttributeName": "gp", "KeyType": "HASH"},
                          {"AttributeName": "gd", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["nm"]},
        }],
    }


class GraphTable(DynamoTable):
    """The graph's own table (its keys and degree index differ from the state table's)."""

    def definition(self) -> dict[str, Any]:
        return graph_definition(self.name)

    def check_table(self, table: dict[str, Any]) -> None:
        wanted = graph_definition(self.name)
        indexes = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}
        if table.get("KeySchema") != wanted["KeySchema"] or DEGREE_INDEX not in indexes:
            raise StorageError(
                f"DynamoDB table {self.name} is not a graph table (it needs pk/sk keys and the "
                f"{DEGREE_INDEX} index): use another LAMBDARAG_DYNAMODB_GRAPH_TABLE"
            )


def degree_key(degree: int) -> str:
    """``gd``: ascending order of these strings is descending degree."""
    return f"{_MAX_DEGREE - degree:0{_DEGREE_WIDTH}d}"


class DynamoDBGraphStorage(GraphStorage):
    """One workspace's graph in the graph table; see the module docstring for the layout.

    Parameters
    ----------
    table:
        The :class:`GraphTable` (client, settings, retries, blob store for huge properties).
    workspace:
        The workspace; every partition key holds it.

    Examples
    --------
    >>> graph = DynamoDBGraphStorage(GraphTable(client, settings), "finance")  # doctest: +SKIP
    >>> await graph.node_degrees(["Acme Corp"])  # doctest: +SKIP
    """

    def __init__(self, table: GraphTable, workspace: str) -> None:
        self._table = table
        self.workspace = workspace
        self._labels = partition(workspace, "glabel")

    # -- keys -------------------------------------------------------------------------

    def _node_pk(self, name: str) -> str:
        return partition(self.workspace, "gnode", name)

    def _node_key(self, name: str) -> Key:
        return (self._node_pk(name), NODE)

    def _label_key(self, name: str) -> Key:
        return (self._labels, key_part(name))

    def _adj_key(self, name: str, neighbour: str) -> Key:
        return (self._node_pk(name), ADJ + key_part(neighbour))

    def _edge_key(self, pair: Pair) -> Key:
        src, tgt = sorted_pair(*pair)
        return (self._node_pk(src), EDGE + key_part(tgt))

    # -- reads ------------------------------------------------------------------------

    async def has_node(self, name: str) -> bool:
        return bool(await self._existing([name]))

    async def _existing(self, names: Sequence[str]) -> set[str]:
        keys = [self._node_key(name) for name in dict.fromkeys(names)]
        found = await self._table.run(self._table.get_many_sync, keys, ["nm"])
        return {item["nm"] for item in found.values()}

    async def get_nodes(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(names))
        found = await self._table.run(self._table.get_many_sync, [self._node_key(n) for n in wanted])
        by_name = {item["nm"]: item for item in found.values()}
        return {name: self._table.unpack(by_name[name]) for name in wanted if name in by_name}

    async def get_edges(self, pairs: Sequence[tuple[str, str]]) -> dict[Pair, dict[str, Any]]:
        wanted = list(dict.fromkeys(pairs))
        found = await self._table.run(self._table.get_many_sync, [self._edge_key(p) for p in wanted])
        return {pair: self._table.unpack(found[key]) for pair in wanted
                if (key := self._edge_key(pair)) in found}

    async def node_degrees(self, names: Sequence[str]) -> dict[str, int]:
        wanted = list(dict.fromkeys(names))
        found = await self._table.run(self._table.get_many_sync,
                                      [self._label_key(n) for n in wanted], ["nm", "g"])
        degrees = {item["nm"]: int(item["g"]) for item in found.values()}
        return {name: degrees.get(name, 0) for name in wanted}

    async def node_edges(self, names: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """(name, neighbour) per edge of each node, by neighbour name."""
        neighbours = await self._neighbours(list(dict.fromkeys(names)))
        return {name: [(name, nb) for nb in neighbours[name]] for name in dict.fromkeys(names)}

    async def _neighbours(self, names: Sequence[str]) -> dict[str, list[str]]:
        """Sorted neighbour names per node: one Query of its adjacency items each."""
        lists = await self._table.run_many(
            [lambda n=name: self._adjacent_sync(n) for name in names])  # type: ignore[misc]
        return dict(zip(names, lists, strict=True))

    def _adjacent_sync(self, name: str) -> list[str]:
        return sorted(self._weighted_sync(name))

    async def ranked_edges(self, names: Sequence[str]) -> list[tuple[tuple[str, str], int]]:
        """Ranked from the ``a`` items (neighbour and weight) and the label items' degrees;
        no edge's properties are read (but those of edges written before ``a`` items
        carried weights)."""
        unique = list(dict.fromkeys(names))
        adjacent = await self._table.run_many(
            [lambda n=name: self._weighted_sync(n) for name in unique])  # type: ignore[misc]
        weights: dict[tuple[str, str], float | None] = {}
        for name, neighbours in zip(unique, adjacent, strict=True):
            weights.update((sorted_pair(name, nb), w) for nb, w in neighbours.items())
        unweighed = [pair for pair, w in weights.items() if w is None]
        if unweighed:
            props = await self.get_edges(unweighed)
            weights.update((pair, weight_of(props[pair].get("weight"))) for pair in props)
        known = {pair: w for pair, w in weights.items() if w is not None}
        degrees = await self.node_degrees(sorted({n for pair in known for n in pair}))
        rank = {pair: degrees.get(pair[0], 0) + degrees.get(pair[1], 0) for pair in known}
        return [(pair, rank[pair]) for pair in best_edges(rank, known)]

    def _weighted_sync(self, name: str) -> dict[str, float | None]:
        """``{neighbour: edge weight}`` from the node's ``a`` items (None: written before
        the items carried weights); one Query."""
        items = self._table.query_sync(self._node_pk(name), sk_prefix=ADJ, attributes=["nb", "w"])
        return {item["nb"]: float(item["w"]) if "w" in item else None for item in items}

    def _label_items(self) -> Iterator[Item]:
        return self._table.query_sync(self._labels, attributes=["nm", "g", "lp"])

    async def all_labels(self) -> list[str]:
        items = await self._table.run(lambda: list(self._label_items()))
        return sorted(item["nm"] for item in items)

    async def popular_labels(self, limit: int) -> list[str]:
        """Names by degree descending, then name ascending."""
        return [name for name, _ in await self._top_by_degree(limit)]

    async def _top_by_degree(self, limit: int) -> list[tuple[str, int]]:
        if limit <= 0:
            return []
        ranked = await self._table.run(self._degree_query_sync, None, limit)
        if len(ranked) == limit:  # the names tied at the cut, all of them, ordered here
            cut = ranked[-1][1]
            ties = await self._table.run(self._degree_query_sync, cut, None)
            ranked = [row for row in ranked if row[1] > cut] + ties
        ranked.sort(key=lambda row: (-row[1], row[0]))
        return ranked[:limit]

    def _degree_query_sync(self, degree: int | None, limit: int | None) -> list[tuple[str, int]]:
        """(name, degree) from the degree index, best first: ``limit`` of them, or one degree's."""
        request: dict[str, Any] = {
            "TableName": self._table.name, "IndexName": DEGREE_INDEX,
            "KeyConditionExpression": "gp = :p",
            "ExpressionAttributeValues": {":p": {"S": self._labels}},
            "ProjectionExpression": "nm, gd",
        }
        if degree is not None:
            request["KeyConditionExpression"] += " AND gd = :d"
            request["ExpressionAttributeValues"][":d"] = {"S": degree_key(degree)}
        rows: list[tuple[str, int]] = []
        while limit is None or len(rows) < limit:
            if limit is not None:
                request["Limit"] = limit - len(rows)
            response = self._table.client.query(**request)
            rows += [(raw["nm"]["S"], _MAX_DEGREE - int(raw["gd"]["S"]))
                     for raw in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return rows

    async def search_labels(self, query: str, limit: int) -> list[str]:
        """Case-insensitive substring matches, scored as the embedded store does."""
        needle = query.lower().strip()
        if not needle or limit <= 0:
            return []
        names = [name for name in await self.all_labels() if needle in name.lower()]
        return rank_labels(names, needle, limit)

    async def counts(self) -> tuple[int, int]:
        items = await self._table.run(lambda: list(self._label_items()))
        ends = sum(int(item["g"]) + int(item.get("lp", "0")) for item in items)
        return len(items), ends // 2

    # -- subgraph ---------------------------------------------------------------------

    async def subgraph(self, label: str, max_depth: int, max_nodes: int) -> KnowledgeGraph:
        """``*``: the ``max_nodes`` highest-degree nodes; otherwise a BFS from ``label``.

        The BFS goes level by level up to ``max_depth`` hops, taking higher-degree
        nodes first within a level, until ``max_nodes`` nodes are selected.
        Edges are every edge among the selected nodes.
        """
        check_subgraph_args(max_depth, max_nodes)
        adjacency: dict[str, list[str]] = {}
        if label == "*":
            ranked = await self._top_by_degree(max_nodes + 1)
            names, truncated = [name for name, _ in ranked[:max_nodes]], len(ranked) > max_nodes
        elif await self.has_node(label):
            names, truncated = await self._bfs(label, max_depth, max_nodes, adjacency)
        else:
            return KnowledgeGraph()
        return await self._knowledge_graph(names, truncated, adjacency)

    async def _bfs(self, start: str, max_depth: int, max_nodes: int,
                   adjacency: dict[str, list[str]]) -> tuple[list[str], bool]:
        walk = LevelWalk(start, max_nodes)
        for frontier, limit in walk.levels(max_depth):
            adjacency.update(await self._neighbours(frontier))
            candidates = sorted({nb for name in frontier for nb in adjacency[name]} - walk.seen)
            degrees = await self.node_degrees(candidates)
            walk.add(sorted(candidates, key=lambda name: (-degrees[name], name))[:limit])
        return walk.selected, walk.truncated

    async def _knowledge_graph(self, names: list[str], truncated: bool,
                               adjacency: dict[str, list[str]]) -> KnowledgeGraph:
        adjacency.update(await self._neighbours([n for n in names if n not in adjacency]))
        chosen = set(names)
        pairs = sorted({sorted_pair(name, nb) for name in names for nb in adjacency[name]
                        if nb in chosen})
        props, edge_props = await asyncio.gather(self.get_nodes(names), self.get_edges(pairs))
        nodes = [{"id": name, "labels": [name],
                  "properties": {**props.get(name, {}), "entity_id": name}} for name in names]
        edges = [{"id": f"{src}-{tgt}", "type": "DIRECTED", "source": src, "target": tgt,
                  "properties": edge_props[(src, tgt)]}
                 for src, tgt in pairs if (src, tgt) in edge_props]
        return KnowledgeGraph(nodes=nodes, edges=edges, is_truncated=truncated)

    # -- writes -----------------------------------------------------------------------

    async def upsert_nodes(self, nodes: dict[str, dict[str, Any]]) -> None:
        """Create or replace nodes (properties replaced whole; degrees kept)."""
        if not nodes:
            return
        puts = [self._table.pack({"pk": self._node_pk(name), "sk": NODE, "nm": name}, props)
                for name, props in nodes.items()]
        await self._table.run(self._table.write_many_sync, puts)
        keys = [self._label_key(name) for name in nodes]
        labelled = await self._table.run(self._table.get_many_sync, keys, ["nm"])
        new = [name for name, key in zip(nodes, keys, strict=True) if key not in labelled]
        await self._table.run_many([lambda n=name: self._create_label_sync(n) for name in new])

    def _label_item(self, name: str, degree: int, loop: bool, revision: int) -> dict[str, Any]:
        pk, sk = self._label_key(name)
        return to_wire({"pk": pk, "sk": sk, "nm": name, "g": str(degree), "lp": "1" if loop else "0",
                        "r": str(revision), "gp": self._labels, "gd": degree_key(degree)})

    def _create_label_sync(self, name: str) -> None:
        try:
            self._table.client.put_item(TableName=self._table.name,
                                        Item=self._label_item(name, 0, False, 0),
                                        ConditionExpression="attribute_not_exists(pk)")
        except self._table.client.exceptions.ConditionalCheckFailedException:
            pass  # made meanwhile by another writer, or by a degree update: both are right

    async def upsert_edges(self, edges: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Create or replace edges; raises StorageError (writing nothing) if an endpoint is missing."""
        rows = {sorted_pair(*pair): props for pair, props in edges.items()}
        if not rows:
            return
        endpoints = list(dict.fromkeys(name for pair in rows for name in pair))
        missing = set(endpoints) - await self._existing(endpoints)
        if missing:
            raise StorageError(f"cannot upsert edges: endpoint nodes missing: {sorted(missing)[:10]}")
        puts = []
        for (src, tgt), props in rows.items():
            edge_pk, edge_sk = self._edge_key((src, tgt))
            puts.append(self._table.pack({"pk": edge_pk, "sk": edge_sk, "s": src, "t": tgt}, props))
            weight = repr(weight_of(props.get("weight")))
            for name, neighbour in ((src, tgt), (tgt, src)):
                pk, sk = self._adj_key(name, neighbour)
                puts.append(to_wire({"pk": pk, "sk": sk, "nb": neighbour, "w": weight}))
        await self._table.run(self._table.write_many_sync, puts)
        await self._refresh_degrees(endpoints)

    async def delete_edges(self, pairs: Sequence[tuple[str, str]]) -> None:
        wanted = list(dict.fromkeys(sorted_pair(*pair) for pair in pairs))
        if not wanted:
            return
        keys = [key for src, tgt in wanted
                for key in (self._edge_key((src, tgt)), self._adj_key(src, tgt), self._adj_key(tgt, src))]
        await self._table.run(self._table.delete_keys_sync, list(dict.fromkeys(keys)))
        await self._refresh_degrees(list(dict.fromkeys(name for pair in wanted for name in pair)))

    async def delete_nodes(self, names: Sequence[str]) -> None:
        """Delete nodes and their edges; the neighbours' degrees are recomputed."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return
        neighbours = await self._neighbours(wanted)
        gone = set(wanted)
        keys: list[Key] = []
        for name in wanted:
            for nb in neighbours[name]:
                if nb not in gone:
                    keys += [self._adj_key(nb, name), self._edge_key((name, nb))]
            keys.append(self._label_key(name))
        await self._table.run(self._table.delete_keys_sync, list(dict.fromkeys(keys)))
        await self._table.run_many([lambda n=name: self._table.delete_partition_sync(self._node_pk(n))
                                    for name in wanted])  # type: ignore[misc]
        touched = {nb for name in wanted for nb in neighbours[name]} - gone
        await self._refresh_degrees(sorted(touched))

    async def drop(self) -> None:
        """Remove every node, edge and label of this workspace."""
        names = await self.all_labels()
        await self._table.run_many([lambda n=name: self._table.delete_partition_sync(self._node_pk(n))
                                    for name in names])  # type: ignore[misc]
        await self._table.run(self._table.delete_partition_sync, self._labels)
        logger.info("dropped DynamoDB graph of workspace %r", self.workspace)

    async def ensure(self) -> None:
        """Create the graph table (when allowed) and wait until it and its index are ACTIVE."""
        await self._table.ensure()

    # -- degrees ----------------------------------------------------------------------

    async def _refresh_degrees(self, names: Iterable[str]) -> None:
        await self._table.run_many([lambda n=name: self._refresh_sync(n) for name in names])

    def _refresh_sync(self, name: str) -> None:
        """Recount ``name``'s neighbours and compare-and-set its label item (module docstring)."""
        client = self._table.client
        for attempt in range(CAS_ATTEMPTS):
            label = self._table.get_many_sync([self._label_key(name)], ["g", "lp", "r"]).get(
                self._label_key(name))
            if label is None and not self._table.get_many_sync([self._node_key(name)], ["nm"]):
                return  # the node is gone: nothing to count
            neighbours = self._adjacent_sync(name)
            degree, loop = len(neighbours), name in neighbours
            if label is not None and int(label["g"]) == degree and (label.get("lp") == "1") == loop:
                return
            revision = int(label["r"]) + 1 if label is not None else 1
            condition: dict[str, Any] = ({"ConditionExpression": "attribute_not_exists(pk)"}
                                         if label is None else
                                         {"ConditionExpression": "r = :r",
                                          "ExpressionAttributeValues": {":r": {"S": label["r"]}}})
            try:
                client.put_item(TableName=self._table.name,
                                Item=self._label_item(name, degree, loop, revision), **condition)
                return
            except client.exceptions.ConditionalCheckFailedException:
                time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
        raise VersionConflictError(
            f"the degree of {name[:80]!r} kept changing under {CAS_ATTEMPTS} writers; retry"
        )
