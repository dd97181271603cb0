"""Smoke tests: each local stand-in speaks the real protocol the AWS adapters will use.

They exercise the server features the adapters depend on, not LambdaRAG code:
DynamoDB GSIs, conditional writes and batch limits; Gremlin ``mergeV``/``mergeE`` with string
ids and Neptune's ``set`` default cardinality; OpenSearch ``knn_vector`` with lucene filtered
k-NN and ``delete_by_query``. Start the servers with ``scripts/services start``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversalSource

# --- DynamoDB Local ---------------------------------------------------------------------------


@pytest.fixture
def docs_table(dynamodb_client: Any, unique_name: str) -> Iterator[str]:
    """A doc-status-like table: key (pk, sk), GSI ``by_status`` on (status, updated)."""
    string, number = "S", "N"
    dynamodb_client.create_table(
        TableName=unique_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": string},
            {"AttributeName": "sk", "AttributeType": string},
            {"AttributeName": "status", "AttributeType": string},
            {"AttributeName": "updated", "AttributeType": number},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updated", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb_client.get_waiter("table_exists").wait(TableName=unique_name)
    try:
        yield unique_name
    finally:
        dynamodb_client.delete_table(TableName=unique_name)


def _doc(pk: str, status: str, updated: int) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": "doc"},
        "status": {"S": status},
        "updated": {"N": str(updated)},
    }


def test_dynamodb_conditional_put_fails_when_the_item_exists(
    dynamodb_client: Any, docs_table: str
) -> None:
    # GIVEN an item written only if absent
    put = {"TableName": docs_table, "ConditionExpression": "attribute_not_exists(pk)"}
    dynamodb_client.put_item(Item=_doc("d1", "pending", 1), **put)

    # WHEN the same conditional put runs again
    with pytest.raises(dynamodb_client.exceptions.ConditionalCheckFailedException) as caught:
        dynamodb_client.put_item(
            Item=_doc("d1", "processed", 2), ReturnValuesOnConditionCheckFailure="ALL_OLD", **put
        )

    # THEN it fails with AWS's error code, returns the old item and leaves it unchanged
    error = caught.value.response
    assert error["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error["Item"]["status"] == {"S": "pending"}
    item = dynamodb_client.get_item(
        TableName=docs_table, Key={"pk": {"S": "d1"}, "sk": {"S": "doc"}}
    )
    assert item["Item"]["status"] == {"S": "pending"}


def test_dynamodb_batch_write_takes_25_items_and_rejects_26(
    dynamodb_client: Any, docs_table: str
) -> None:
    # GIVEN 26 put requests
    requests = [{"PutRequest": {"Item": _doc(f"d{i:02}", "pending", i)}} for i in range(26)]

    # WHEN 25 are written in one batch, then 26
    written = dynamodb_client.batch_write_item(RequestItems={docs_table: requests[:25]})
    with pytest.raises(dynamodb_client.exceptions.ClientError) as caught:
        dynamodb_client.batch_write_item(RequestItems={docs_table: requests})

    # THEN the first batch is complete and the second is refused as on AWS
    assert written["UnprocessedItems"] == {}
    assert dynamodb_client.scan(TableName=docs_table, Select="COUNT")["Count"] == 25
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_dynamodb_query_on_the_gsi_is_sorted_and_paginated(
    dynamodb_client: Any, docs_table: str
) -> None:
    # GIVEN 25 docs, 10 of them processed, written in one batch
    statuses = ["processed" if i % 5 in (0, 2) else "pending" for i in range(25)]
    requests = [
        {"PutRequest": {"Item": _doc(f"d{i:02}", status, 1000 - i)}}
        for i, status in enumerate(statuses)
    ]
    dynamodb_client.batch_write_item(RequestItems={docs_table: requests})

    # WHEN the processed ones are read from the GSI, newest first, 4 per page
    query = {
        "TableName": docs_table,
        "IndexName": "by_status",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":s": {"S": "processed"}},
        "ScanIndexForward": False,
        "Limit": 4,
    }
    pages, start = [], None
    while True:
        page = dynamodb_client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        pages.append([int(item["updated"]["N"]) for item in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            break

    # THEN all 10 come back in descending order over pages of at most 4
    updated = [value for page in pages for value in page]
    assert updated == sorted(
        (1000 - i for i, s in enumerate(statuses) if s == "processed"), reverse=True
    )
    assert [len(page) for page in pages][:3] == [4, 4, 2]


# --- Gremlin Server (Neptune stand-in) --------------------------------------------------------


@pytest.fixture
def graph_ids(gremlin_g: GraphTraversalSource, unique_name: str) -> Iterator[dict[str, str]]:
    """String vertex ids for this test; every vertex with them is dropped afterwards."""
    ids = {name: f"{unique_name}-{name}" for name in ("a", "b", "c")}
    try:
        yield ids
    finally:
        gremlin_g.V(*ids.values()).drop().iterate()


def test_gremlin_merge_v_with_a_string_id_is_idempotent(
    gremlin_g: GraphTraversalSource, graph_ids: dict[str, str]
) -> None:
    from gremlin_python.process.traversal import CardinalityValue, Merge, T

    g, vid = gremlin_g, graph_ids["a"]

    # WHEN the same mergeV runs twice, setting the description with single cardinality on match
    def upsert(description: str) -> object:
        return (
            g.merge_v({T.id: vid, T.label: "entity"})
            .option(Merge.on_create, {"name": "Alpha", "description": description})
            .option(Merge.on_match, {"description": CardinalityValue.single(description)})
            .id_()
            .next()
        )

    first, second = upsert("first"), upsert("second")

    # THEN one vertex exists, under the caller's string id, with the description replaced
    assert first == second == vid
    assert g.V(vid).count().next() == 1
    assert g.V(vid).values("description").to_list() == ["second"]
    assert g.V(vid).label().next() == "entity"


def test_gremlin_property_cardinality_single_replaces_and_default_adds(
    gremlin_g: GraphTraversalSource, graph_ids: dict[str, str]
) -> None:
    from gremlin_python.process.traversal import Cardinality, T

    g, vid = gremlin_g, graph_ids["a"]
    g.add_v("entity").property(T.id, vid).iterate()

    # WHEN a property is written twice with Cardinality.single, another twice with the default
    g.V(vid).property(Cardinality.single, "description", "old").iterate()
    g.V(vid).property(Cardinality.single, "description", "new").iterate()
    g.V(vid).property("tag", "x").iterate()
    g.V(vid).property("tag", "y").iterate()

    # THEN single replaced the value, while the default (set, as on Neptune) added one
    assert g.V(vid).values("description").to_list() == ["new"]
    assert sorted(g.V(vid).values("tag").to_list()) == ["x", "y"]


def test_gremlin_edges_two_hop_traversal_and_drop(
    gremlin_g: GraphTraversalSource, graph_ids: dict[str, str]
) -> None:
    from gremlin_python.process.graph_traversal import __
    from gremlin_python.process.traversal import Direction, Merge, T

    g, a, b, c = gremlin_g, graph_ids["a"], graph_ids["b"], graph_ids["c"]
    for vid in (a, b, c):
        g.merge_v({T.id: vid, T.label: "entity"}).iterate()

    # GIVEN a -> b -> c, the edges upserted with string ids
    for src, dst in ((a, b), (b, c)):
        eid = f"{src}->{dst}"
        edge = {T.id: eid, T.label: "related", Direction.OUT: src, Direction.IN: dst}
        g.merge_e(edge).option(Merge.on_create, {"weight": 1.0}).iterate()
    g.merge_e({T.id: f"{a}->{b}", T.label: "related", Direction.OUT: a, Direction.IN: b}).iterate()

    # WHEN walking two hops out of a, and both ways from c
    two_hops = g.V(a).out("related").out("related").id_().to_list()
    around_c = g.V(c).repeat(__.both("related").simple_path()).times(2).id_().to_list()

    # THEN the path is found, the edge ids are the caller's, and the re-merge made no duplicate
    assert two_hops == [c]
    assert around_c == [a]
    assert g.E(f"{a}->{b}").count().next() == 1
    assert g.V(a).out_e("related").count().next() == 1

    # WHEN b is dropped THEN its edges go with it
    g.V(b).drop().iterate()
    assert g.V(a).out("related").count().next() == 0
    assert g.E(f"{a}->{b}", f"{b}->{c}").count().next() == 0


# --- OpenSearch with the k-NN plugin ----------------------------------------------------------

VECTORS = {
    # id: (workspace, vector): cosine similarity to QUERY falls from a1 to a4; b1 is the nearest
    # of all but lives in another workspace.
    "a1": ("w1", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "a2": ("w1", [0.9, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "a3": ("w1", [0.5, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "a4": ("w1", [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
    "b1": ("w2", [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01]),
}
QUERY = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


@pytest.fixture
def vector_index(opensearch_client: Any, unique_name: str) -> Iterator[str]:
    """A k-NN index (lucene HNSW, cosine, dimension 8) holding ``VECTORS``."""
    opensearch_client.indices.create(
        index=unique_name,
        body={
            "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
            "mappings": {
                "properties": {
                    "vec": {
                        "type": "knn_vector",
                        "dimension": 8,
                        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil"},
                    },
                    "workspace": {"type": "keyword"},
                }
            },
        },
    )
    try:
        yield unique_name
    finally:
        opensearch_client.indices.delete(index=unique_name)


def _bulk_vectors(client: Any, index: str) -> dict[str, Any]:
    lines: list[dict[str, Any]] = []
    for doc_id, (workspace, vector) in VECTORS.items():
        lines.append({"index": {"_index": index, "_id": doc_id}})
        lines.append({"workspace": workspace, "vec": vector})
    return client.bulk(body=lines, refresh=True)


def _knn(client: Any, index: str, k: int, workspace: str | None = None) -> list[str]:
    knn: dict[str, Any] = {"vector": QUERY, "k": k}
    if workspace is not None:
        knn["filter"] = {"term": {"workspace": workspace}}
    body = {"size": k, "_source": False, "query": {"knn": {"vec": knn}}}
    return [hit["_id"] for hit in client.search(index=index, body=body)["hits"]["hits"]]


def test_opensearch_knn_with_a_filter_ranks_within_the_workspace(
    opensearch_client: Any, vector_index: str
) -> None:
    # GIVEN the vectors, bulk-indexed
    response = _bulk_vectors(opensearch_client, vector_index)
    assert response["errors"] is False

    # WHEN the top 3 are asked for, without and with a workspace filter (lucene efficient filtering)
    unfiltered = _knn(opensearch_client, vector_index, k=3)
    filtered = _knn(opensearch_client, vector_index, k=3, workspace="w1")

    # THEN cosine similarity orders them, and the filter keeps k hits from w1 only
    assert unfiltered == ["a1", "b1", "a2"]
    assert filtered == ["a1", "a2", "a3"]


def test_opensearch_delete_by_query_removes_one_workspace(
    opensearch_client: Any, vector_index: str
) -> None:
    # GIVEN the vectors of two workspaces
    _bulk_vectors(opensearch_client, vector_index)

    # WHEN w2 is deleted by query
    deleted = opensearch_client.delete_by_query(
        index=vector_index, body={"query": {"term": {"workspace": "w2"}}}, refresh=True
    )

    # THEN only its document went, and k-NN no longer finds it
    assert deleted["deleted"] == 1
    assert opensearch_client.count(index=vector_index)["count"] == 4
    assert _knn(opensearch_client, vector_index, k=2) == ["a1", "a2"]
