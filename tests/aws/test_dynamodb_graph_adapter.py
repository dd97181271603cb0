"""DynamoDBGraphStorage beyond the contract suite: concurrent merges, hub reads, provisioning.

Runs on DynamoDB Local (``scripts/services start dynamodb``), a graph table per test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lambdarag.storage.base import GraphStorage, StorageError, StoreUnavailableError
from lambdarag.storage.dynamodb import DynamoDBSettings
from lambdarag.storage.dynamodb.graph import DynamoDBGraphStorage, GraphTable
from tests.fakes.aws_meter import AwsMeter


@pytest.fixture
async def table(dynamodb_client: Any) -> AsyncIterator[GraphTable]:
    graph_table = GraphTable(dynamodb_client, DynamoDBSettings(table=f"lrgt-{uuid.uuid4().hex[:10]}"))
    try:
        yield graph_table
    finally:
        try:
            await asyncio.to_thread(dynamodb_client.delete_table, TableName=graph_table.name)
        except dynamodb_client.exceptions.ResourceNotFoundException:
            pass


async def test_concurrent_merges_on_one_hub_keep_its_degree_exact(table: GraphTable) -> None:
    # GIVEN a hub and 8 writers (separate store objects, as separate Lambdas would have)
    await DynamoDBGraphStorage(table, "ws").upsert_nodes(
        {"hub": {}, **{f"n{i}": {} for i in range(80)}})
    writers = [DynamoDBGraphStorage(table, "ws") for _ in range(8)]

    # WHEN each links ten nodes to the hub at the same time, and two remove edges meanwhile
    await asyncio.gather(*(
        writer.upsert_edges({("hub", f"n{w * 10 + i}"): {"weight": 1.0} for i in range(10)})
        for w, writer in enumerate(writers)))
    await asyncio.gather(writers[0].delete_edges([("hub", "n0")]),
                         writers[1].delete_edges([("n79", "hub")]),
                         writers[2].upsert_edges({("n1", "n2"): {}}))

    # THEN every count agrees with the edges stored
    graph = DynamoDBGraphStorage(table, "ws")
    assert (await graph.node_degrees(["hub", "n1", "n0"])) == {"hub": 78, "n1": 2, "n0": 0}
    assert len((await graph.node_edges(["hub"]))["hub"]) == 78
    assert await graph.counts() == (81, 79)
    assert (await graph.popular_labels(3))[0] == "hub"


async def test_a_hubs_neighbours_cost_its_adjacency_not_its_edges(
    table: GraphTable, dynamodb_client: Any
) -> None:
    # GIVEN a hub with 300 edges whose descriptions are 2 KB each
    graph = DynamoDBGraphStorage(table, "ws")
    await graph.upsert_nodes({"hub": {}, **{f"n{i:03d}": {} for i in range(300)}})
    await graph.upsert_edges({("hub", f"n{i:03d}"): {"description": "d" * 2000}
                              for i in range(300)})
    meter = AwsMeter()
    meter.register(dynamodb_client.meta.events)

    # WHEN its neighbours are listed
    edges = (await graph.node_edges(["hub"]))["hub"]

    # THEN the read costs a few units (its small adjacency items), not the 600 KB of edges
    assert len(edges) == 300
    assert meter.dynamodb_units()["reads"] < 20
    assert meter.requests["dynamodb:Query"] == 1


async def test_ranking_a_hubs_edges_reads_no_edge_descriptions(
    table: GraphTable, dynamodb_client: Any
) -> None:
    # GIVEN a hub with 300 weighted edges whose descriptions are 5 KB each
    graph = DynamoDBGraphStorage(table, "ws")
    await graph.upsert_nodes({"hub": {}, **{f"n{i:03d}": {} for i in range(300)}})
    await graph.upsert_edges({("hub", f"n{i:03d}"): {"description": "d" * 5000, "weight": i % 7}
                              for i in range(300)})

    async def units_of_ranking(rank: Any) -> tuple[list[Any], float]:
        meter = AwsMeter()
        meter.register(dynamodb_client.meta.events)
        try:
            return await rank(["hub"]), meter.dynamodb_units()["reads"]
        finally:
            meter.unregister(dynamodb_client.meta.events)

    # WHEN its edges are ranked by the adapter, and by the contract's default (which reads
    # every edge's properties)
    ranked, units = await units_of_ranking(graph.ranked_edges)
    by_default, default_units = await units_of_ranking(
        lambda names: GraphStorage.ranked_edges(graph, names))

    # THEN both rank all 300 alike, heaviest first among equal ranks, and the adapter reads
    # the degrees and the small adjacency items only: under half the default's read units
    assert ranked == by_default
    assert len(ranked) == 300 and {rank for _, rank in ranked} == {301}
    assert ranked[:2] == [(("hub", "n006"), 301), (("hub", "n013"), 301)]
    assert units < default_units / 2, (units, default_units)


async def test_adjacency_written_without_weights_is_ranked_from_the_edges(
    table: GraphTable, dynamodb_client: Any
) -> None:
    # GIVEN edges whose adjacency items carry no weight (as an older version wrote them)
    graph = DynamoDBGraphStorage(table, "ws")
    await graph.upsert_nodes({"a": {}, "b": {}, "c": {}})
    await graph.upsert_edges({("a", "b"): {"weight": 1.0}, ("a", "c"): {"weight": 5.0}})
    for item in dynamodb_client.scan(TableName=table.name)["Items"]:
        if "w" in item:
            dynamodb_client.update_item(TableName=table.name, UpdateExpression="REMOVE w",
                                        Key={"pk": item["pk"], "sk": item["sk"]})

    # THEN the ranking reads those edges' weights
    assert await graph.ranked_edges(["a"]) == [(("a", "c"), 3), (("a", "b"), 3)]


async def test_ensure_creates_the_graph_table_with_its_degree_index(
    table: GraphTable, dynamodb_client: Any
) -> None:
    await DynamoDBGraphStorage(table, "ws").ensure()
    described = dynamodb_client.describe_table(TableName=table.name)["Table"]
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["graph-degree"]


async def test_a_table_of_another_layout_is_refused_by_setting_name(dynamodb_client: Any) -> None:
    from lambdarag.storage.dynamodb import table_definition

    name = f"lrgt-{uuid.uuid4().hex[:10]}"
    dynamodb_client.create_table(**table_definition(name))  # the state table's layout
    try:
        graph = DynamoDBGraphStorage(GraphTable(dynamodb_client, DynamoDBSettings(table=name)), "ws")
        with pytest.raises(StorageError, match="LAMBDARAG_DYNAMODB_GRAPH_TABLE"):
            await graph.has_node("x")
    finally:
        dynamodb_client.delete_table(TableName=name)


async def test_a_missing_table_the_stack_should_own_is_unavailable(dynamodb_client: Any) -> None:
    settings = DynamoDBSettings(table=f"lrgt-{uuid.uuid4().hex[:10]}", create_table=False)
    graph = DynamoDBGraphStorage(GraphTable(dynamodb_client, settings), "ws")
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        await graph.upsert_nodes({"a": {}})
