"""GraphStorage contract: nodes, edges, degrees, labels and subgraphs."""

from __future__ import annotations

from typing import Any

import pytest

from lambdarag.storage.base import GraphStorage, KnowledgeGraph, StorageError, StorageFactory

#   root ── a1 ── b1 ── c1 ── d1        degrees: a3 4; root, a1 3; a2, b1, b2, x1, c1 2;
#     │      └─── b2 ──┐                          b3, x2, x3, d1 1
#     ├── a2 ── b3     │
#     └── a3 ── x1 ────┘
#          ├─── x2
#          └─── x3
TREE_EDGES = [
    ("root", "a1"), ("a2", "root"), ("root", "a3"),
    ("a1", "b1"), ("b2", "a1"), ("a2", "b3"),
    ("a3", "x1"), ("x2", "a3"), ("a3", "x3"),
    ("b2", "x1"), ("b1", "c1"), ("c1", "d1"),
]  # fmt: skip
TREE_NODES = sorted({name for edge in TREE_EDGES for name in edge})


def node_props(name: str) -> dict[str, Any]:
    return {
        "entity_id": name,
        "entity_type": "concept",
        "description": f"about {name}",
        "source_id": "chunk-1",
        "file_path": "f.txt",
        "created_at": 1700000000,
    }


def edge_props(src: str, tgt: str) -> dict[str, Any]:
    return {
        "weight": 1.5,
        "description": f"{src} and {tgt}",
        "keywords": "k",
        "source_id": "chunk-1",
        "file_path": "f.txt",
        "created_at": 1700000001,
    }


@pytest.fixture
async def tree(factory: StorageFactory) -> GraphStorage:
    graph = factory.graph()
    await graph.upsert_nodes({name: node_props(name) for name in TREE_NODES})
    await graph.upsert_edges({edge: edge_props(*edge) for edge in TREE_EDGES})
    return graph


def node_ids(kg: KnowledgeGraph) -> list[str]:
    return [node["id"] for node in kg.nodes]


def edge_ids(kg: KnowledgeGraph) -> set[str]:
    return {edge["id"] for edge in kg.edges}


# ------------------------------------------------------------------ nodes/edges


async def test_nodes_roundtrip_and_replace_whole(factory: StorageFactory) -> None:
    # GIVEN a node
    graph = factory.graph()
    await graph.upsert_nodes({"A": {"entity_type": "person", "description": "old", "n": 1}})

    # WHEN it is upserted again with other properties
    await graph.upsert_nodes({"A": {"entity_type": "org"}, "B": {"x": 1.5}})

    # THEN its properties are replaced whole; absent names are left out
    assert await graph.get_nodes(["A", "B", "missing"]) == {
        "A": {"entity_type": "org"},
        "B": {"x": 1.5},
    }
    assert await graph.has_node("A") is True
    assert await graph.has_node("missing") is False


async def test_edges_are_found_in_either_orientation(tree: GraphStorage) -> None:
    # WHEN reading edges in both orientations, and an absent pair
    found = await tree.get_edges([("a1", "root"), ("root", "a2"), ("root", "d1")])

    # THEN each existing edge is keyed by the pair as asked
    assert found == {
        ("a1", "root"): edge_props("root", "a1"),
        ("root", "a2"): edge_props("a2", "root"),
    }


async def test_reupserting_an_edge_reversed_replaces_it(tree: GraphStorage) -> None:
    # WHEN an existing edge is upserted in the other orientation
    await tree.upsert_edges({("a1", "root"): {"weight": 9.0}})

    # THEN it is the same edge: properties replaced, degrees and counts unchanged
    assert await tree.get_edges([("root", "a1")]) == {("root", "a1"): {"weight": 9.0}}
    assert await tree.node_degrees(["root", "a1"]) == {"root": 3, "a1": 3}
    assert await tree.counts() == (len(TREE_NODES), len(TREE_EDGES))


async def test_upsert_edges_requires_both_endpoints(tree: GraphStorage) -> None:
    # WHEN a batch has one edge whose endpoint does not exist
    with pytest.raises(StorageError):
        await tree.upsert_edges({("root", "b3"): {}, ("root", "ghost"): {}})

    # THEN nothing of the batch was written
    assert await tree.get_edges([("root", "b3")]) == {}
    assert await tree.has_node("ghost") is False
    assert (await tree.node_degrees(["root"]))["root"] == 3


async def test_degrees_follow_upserts_and_deletes(tree: GraphStorage) -> None:
    # THEN degrees count distinct edges; absent nodes have 0
    assert await tree.node_degrees(["a3", "root", "b3", "missing"]) == {
        "a3": 4,
        "root": 3,
        "b3": 1,
        "missing": 0,
    }

    # WHEN edges are deleted (either orientation, twice, and one absent)
    await tree.delete_edges([("x1", "a3"), ("a3", "x1"), ("root", "d1")])

    # THEN exactly the endpoints of the deleted edge lose one
    assert await tree.node_degrees(["a3", "x1", "root", "d1"]) == {
        "a3": 3,
        "x1": 1,
        "root": 3,
        "d1": 1,
    }
    assert await tree.counts() == (len(TREE_NODES), len(TREE_EDGES) - 1)


async def test_node_edges_lists_name_neighbour_tuples(tree: GraphStorage) -> None:
    found = await tree.node_edges(["a1", "d1", "missing"])

    assert sorted(found["a1"]) == [("a1", "b1"), ("a1", "b2"), ("a1", "root")]
    assert found["d1"] == [("d1", "c1")]
    assert found["missing"] == []


async def test_ranked_edges_orders_by_rank_then_weight_then_pair(tree: GraphStorage) -> None:
    # GIVEN the tree, with a3-x2 heavier than the other edges
    await tree.upsert_edges({("a3", "x2"): {**edge_props("a3", "x2"), "weight": 9.0}})

    # WHEN ranking the edges of a3, root and a1 (root-a3 and a1-root touch two of them)
    ranked = await tree.ranked_edges(["a3", "root", "a1", "missing"])

    # THEN each edge comes once, as a sorted pair with the sum of its endpoints'
    # degrees, best first; ties on rank go by weight, then by pair
    assert ranked == [
        (("a3", "root"), 7),
        (("a1", "root"), 6), (("a3", "x1"), 6),
        (("a3", "x2"), 5), (("a1", "b1"), 5), (("a1", "b2"), 5), (("a2", "root"), 5),
        (("a3", "x3"), 5),
    ]  # fmt: skip
    assert await tree.ranked_edges(["missing"]) == []
    assert await tree.ranked_edges([]) == []


async def test_ranked_edges_follow_weight_changes_and_deletes(tree: GraphStorage) -> None:
    # WHEN one edge gets heavier and another is deleted
    await tree.upsert_edges({("x3", "a3"): {**edge_props("a3", "x3"), "weight": 3.0}})
    await tree.delete_edges([("a3", "x1")])

    # THEN ranks (degrees) and the order of ties (weights) follow
    assert await tree.ranked_edges(["a3"]) == [
        (("a3", "root"), 6), (("a3", "x3"), 4), (("a3", "x2"), 4)]


async def test_delete_nodes_removes_incident_edges_and_fixes_degrees(tree: GraphStorage) -> None:
    # WHEN a3 (4 edges) and x1 (adjacent to a3 and b2) are deleted
    await tree.delete_nodes(["a3", "x1", "missing"])

    # THEN their edges are gone and the neighbours' degrees drop accordingly
    assert await tree.get_nodes(["a3", "x1"]) == {}
    assert await tree.get_edges([("root", "a3"), ("b2", "x1")]) == {}
    assert await tree.node_degrees(["root", "b2", "x2", "x3"]) == {
        "root": 2,
        "b2": 1,
        "x2": 0,
        "x3": 0,
    }
    assert sorted((await tree.node_edges(["root"]))["root"]) == [("root", "a1"), ("root", "a2")]
    assert await tree.counts() == (len(TREE_NODES) - 2, len(TREE_EDGES) - 5)


async def test_drop_empties_the_graph(tree: GraphStorage) -> None:
    await tree.drop()
    assert await tree.counts() == (0, 0)
    assert await tree.all_labels() == []


# ----------------------------------------------------------------------- labels


async def test_all_labels_are_sorted(tree: GraphStorage) -> None:
    assert await tree.all_labels() == TREE_NODES


async def test_popular_labels_by_degree_then_name(tree: GraphStorage) -> None:
    assert await tree.popular_labels(6) == ["a3", "a1", "root", "a2", "b1", "b2"]
    assert len(await tree.popular_labels(100)) == len(TREE_NODES)


async def test_search_labels_scores_exact_prefix_boundary_and_length(
    factory: StorageFactory,
) -> None:
    # GIVEN names matching "apple" in every way the scoring distinguishes
    graph = factory.graph()
    names = [
        "Crabapple tree",  # contains: 100 - 14 = 86
        "pineapple",  # contains: 100 - 9 = 91
        "green_apple_pie",  # contains after "_": 100 - 15 + 50 = 135
        "Big Apple",  # contains after " ": 100 - 9 + 50 = 141
        "applesauce",  # prefix: 500
        "Apple Inc",  # prefix: 500 (ties by name)
        "Apple",  # exact: 1000
        "Orange",  # no match
    ]
    await graph.upsert_nodes({name: {} for name in names})
    expected = [
        "Apple",
        "Apple Inc",
        "applesauce",
        "Big Apple",
        "green_apple_pie",
        "pineapple",
        "Crabapple tree",
    ]

    # WHEN searching, also with different case and surrounding blanks
    # THEN matches are ranked by score, then name, and limited
    assert await graph.search_labels("apple", 50) == expected
    assert await graph.search_labels("  APPLE ", 50) == expected
    assert await graph.search_labels("apple", 3) == expected[:3]


async def test_search_labels_blank_query_and_no_match(tree: GraphStorage) -> None:
    assert await tree.search_labels("", 10) == []
    assert await tree.search_labels("   ", 10) == []
    assert await tree.search_labels("zzz", 10) == []


async def test_search_labels_folds_unicode_case(factory: StorageFactory) -> None:
    graph = factory.graph()
    await graph.upsert_nodes({"ÉCOLE Normale": {}, "東京タワー": {}})

    assert await graph.search_labels("école", 10) == ["ÉCOLE Normale"]
    assert await graph.search_labels("東京", 10) == ["東京タワー"]


# --------------------------------------------------------------------- subgraph


async def test_subgraph_wire_shape(tree: GraphStorage) -> None:
    kg = await tree.subgraph("d1", 1, 10)

    assert kg.nodes == [
        {"id": "d1", "labels": ["d1"], "properties": node_props("d1")},
        {"id": "c1", "labels": ["c1"], "properties": node_props("c1")},
    ]
    assert kg.edges == [
        {
            "id": "c1-d1",
            "type": "DIRECTED",
            "source": "c1",
            "target": "d1",
            "properties": edge_props("c1", "d1"),
        }
    ]
    assert kg.is_truncated is False


async def test_subgraph_sets_entity_id_to_the_node_name(factory: StorageFactory) -> None:
    graph = factory.graph()
    await graph.upsert_nodes({"solo": {"description": "no entity_id stored"}})

    kg = await graph.subgraph("solo", 2, 10)

    assert kg.nodes == [
        {
            "id": "solo",
            "labels": ["solo"],
            "properties": {"description": "no entity_id stored", "entity_id": "solo"},
        }
    ]
    assert kg.edges == []


@pytest.mark.parametrize(
    ("depth", "expected_nodes", "expected_edges"),
    [
        (0, {"root"}, set()),
        (1, {"root", "a1", "a2", "a3"}, {"a1-root", "a2-root", "a3-root"}),
        (
            2,
            {"root", "a1", "a2", "a3", "b1", "b2", "b3", "x1", "x2", "x3"},
            {
                "a1-root",
                "a2-root",
                "a3-root",
                "a1-b1",
                "a1-b2",
                "a2-b3",
                "a3-x1",
                "a3-x2",
                "a3-x3",
                "b2-x1",
            },
        ),
        (3, set(TREE_NODES) - {"d1"}, {f"{min(e)}-{max(e)}" for e in TREE_EDGES} - {"c1-d1"}),
        (9, set(TREE_NODES), {f"{min(e)}-{max(e)}" for e in TREE_EDGES}),
    ],
)
async def test_subgraph_bfs_depth(
    tree: GraphStorage, depth: int, expected_nodes: set[str], expected_edges: set[str]
) -> None:
    kg = await tree.subgraph("root", depth, 100)

    assert node_ids(kg)[0] == "root"
    assert set(node_ids(kg)) == expected_nodes
    assert edge_ids(kg) == expected_edges
    assert kg.is_truncated is False


async def test_subgraph_bfs_prefers_high_degree_nodes_within_a_level(tree: GraphStorage) -> None:
    # WHEN only two of root's three neighbours fit
    kg = await tree.subgraph("root", 3, 3)

    # THEN the two highest-degree neighbours are taken and the result is truncated
    assert node_ids(kg) == ["root", "a3", "a1"]
    assert edge_ids(kg) == {"a1-root", "a3-root"}
    assert kg.is_truncated is True


async def test_subgraph_bfs_breaks_degree_ties_by_name(tree: GraphStorage) -> None:
    # WHEN level 2 (b1, b2, x1 of degree 2; b3, x2, x3 of degree 1) has room for three
    kg = await tree.subgraph("root", 2, 7)

    # THEN the degree-2 nodes are taken in name order
    assert node_ids(kg) == ["root", "a3", "a1", "a2", "b1", "b2", "x1"]
    assert kg.is_truncated is True


async def test_subgraph_full_at_a_level_boundary(tree: GraphStorage) -> None:
    # max_nodes reached exactly: truncated only if a deeper level was left out
    within_depth = await tree.subgraph("root", 1, 4)
    more_below = await tree.subgraph("root", 2, 4)

    assert within_depth.is_truncated is False
    assert set(node_ids(more_below)) == {"root", "a1", "a2", "a3"}
    assert more_below.is_truncated is True


async def test_subgraph_star_ranks_the_whole_graph_by_degree(tree: GraphStorage) -> None:
    top = await tree.subgraph("*", 3, 3)
    everything = await tree.subgraph("*", 3, 1000)

    assert node_ids(top) == ["a3", "a1", "root"]
    assert edge_ids(top) == {"a1-root", "a3-root"}
    assert top.is_truncated is True
    assert set(node_ids(everything)) == set(TREE_NODES)
    assert len(everything.edges) == len(TREE_EDGES)
    assert everything.is_truncated is False


async def test_subgraph_of_unknown_label_is_empty(tree: GraphStorage) -> None:
    kg = await tree.subgraph("nobody", 3, 100)
    assert (kg.nodes, kg.edges, kg.is_truncated) == ([], [], False)


async def test_subgraph_of_empty_graph_star(factory: StorageFactory) -> None:
    kg = await factory.graph().subgraph("*", 3, 100)
    assert (kg.nodes, kg.edges, kg.is_truncated) == ([], [], False)


# -------------------------------------------------------------- awkward names

AWKWARD = ['O"Brien', "back\\slash", "it's", "東京 Tower", "<|#|>", "a<SEP>b", "%_wild*"]


async def test_awkward_names_work_everywhere(factory: StorageFactory) -> None:
    # GIVEN nodes with awkward names, all linked to the first one
    graph = factory.graph()
    await graph.upsert_nodes({name: {"entity_id": name} for name in AWKWARD})
    await graph.upsert_edges({(AWKWARD[0], name): {"weight": 1.0} for name in AWKWARD[1:]})

    # THEN every operation handles them literally
    assert set(await graph.get_nodes(AWKWARD)) == set(AWKWARD)
    assert set(await graph.get_edges([(name, AWKWARD[0]) for name in AWKWARD[1:]])) == {
        (name, AWKWARD[0]) for name in AWKWARD[1:]
    }
    assert (await graph.node_degrees([AWKWARD[0]]))[AWKWARD[0]] == len(AWKWARD) - 1
    assert await graph.search_labels("<|#|>", 10) == ["<|#|>"]
    assert await graph.search_labels("%_", 10) == ["%_wild*"]
    assert set(node_ids(await graph.subgraph("<|#|>", 1, 100))) == {"<|#|>", AWKWARD[0]}
    assert await graph.all_labels() == sorted(AWKWARD)

    # AND deleting one removes it cleanly
    await graph.delete_nodes(["<|#|>"])
    assert await graph.has_node("<|#|>") is False
    assert (await graph.node_degrees([AWKWARD[0]]))[AWKWARD[0]] == len(AWKWARD) - 2
