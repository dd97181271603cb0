"""Workspace isolation: two workspaces of one backend share nothing."""

from __future__ import annotations

import numpy as np

from lambdarag.storage.base import DocStatusRecord, StorageFactory
from tests.contract.contract_backends import MakeFactory

DIM = 8


async def fill(factory: StorageFactory, tag: str) -> None:
    """Write one item of every kind, each carrying ``tag``."""
    await factory.kv("full_docs").upsert({f"doc-{tag}": {"tag": tag}})
    await factory.doc_status().upsert(
        [DocStatusRecord(id=f"doc-{tag}", status="processed", file_path=f"{tag}.txt", track_id="t")]
    )
    await factory.fragments().put_chunk_fragments(
        f"chunk-{tag}",
        [{"entity_name": f"E-{tag}", "chunk_id": f"chunk-{tag}", "timestamp": 1}],
        [{"src_id": f"E-{tag}", "tgt_id": "Shared", "chunk_id": f"chunk-{tag}", "timestamp": 1}],
    )
    await factory.vectors("chunks", DIM).upsert([{"id": f"v-{tag}"}], np.ones((1, DIM)))
    graph = factory.graph()
    await graph.upsert_nodes({f"E-{tag}": {"tag": tag}, "Shared": {"tag": tag}})
    await graph.upsert_edges({(f"E-{tag}", "Shared"): {"tag": tag}})


async def contents(factory: StorageFactory) -> dict[str, object]:
    """Everything visible in a workspace, in a comparable form."""
    graph = factory.graph()
    names, pairs = await factory.fragments().keys_for_chunks(["chunk-one", "chunk-two"])
    return {
        "kv": await factory.kv("full_docs").keys(),
        "doc_status": await factory.doc_status().status_counts(),
        "track": [r["id"] for r in await factory.doc_status().by_track_id("t")],
        "fragments": (sorted(names), sorted(pairs)),
        "vectors": [h["id"] for h in await factory.vectors("chunks", DIM).query(np.ones(DIM), 5)],
        "labels": await graph.all_labels(),
        "shared": await graph.get_nodes(["Shared"]),
        "degree": await graph.node_degrees(["Shared"]),
    }


def expected(tag: str) -> dict[str, object]:
    return {
        "kv": [f"doc-{tag}"],
        "doc_status": {"processed": 1},
        "track": [f"doc-{tag}"],
        "fragments": ([f"E-{tag}"], [(f"E-{tag}", "Shared")]),
        "vectors": [f"v-{tag}"],
        "labels": sorted([f"E-{tag}", "Shared"]),
        "shared": {"Shared": {"tag": tag}},
        "degree": {"Shared": 1},
    }


async def test_workspaces_see_nothing_of_each_other(factory_maker: MakeFactory) -> None:
    # GIVEN two workspaces filled with the same shapes of data
    one, two = factory_maker("one"), factory_maker("two")
    await fill(one, "one")
    await fill(two, "two")

    # THEN each sees only its own data
    assert await contents(one) == expected("one")
    assert await contents(two) == expected("two")


async def test_dropping_one_workspace_leaves_the_other(factory_maker: MakeFactory) -> None:
    # GIVEN two filled workspaces
    one, two = factory_maker("one"), factory_maker("two")
    await fill(one, "one")
    await fill(two, "two")

    # WHEN every store of the first is dropped
    await one.kv("full_docs").drop()
    await one.doc_status().drop()
    await one.fragments().drop()
    await one.vectors("chunks", DIM).drop()
    await one.graph().drop()

    # THEN the first is empty and the second is intact
    assert await contents(one) == {
        "kv": [],
        "doc_status": {},
        "track": [],
        "fragments": ([], []),
        "vectors": [],
        "labels": [],
        "shared": {},
        "degree": {"Shared": 0},
    }
    assert await contents(two) == expected("two")


async def test_default_workspace_is_separate_from_named_ones(factory_maker: MakeFactory) -> None:
    default, named = factory_maker(""), factory_maker("named")
    await fill(default, "one")
    await fill(named, "two")

    assert await contents(default) == expected("one")
    assert await contents(named) == expected("two")
