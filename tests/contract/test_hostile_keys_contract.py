"""Hostile keys: every store keeps names and ids as opaque data.

Entity names come from LLM output and from users, so they may hold quotes, backslashes,
SQL, Gremlin or Lucene syntax, wildcard characters, the extraction delimiters, control
characters and any script. An adapter must never interpret them: no string-built queries,
no pattern matching on them, no case or Unicode folding of keys, no splitting on separators.
(NUL is left out: the engine never stores it, as names lose their control characters in
``records.normalise_name`` and ``graph_ops`` refuses them, and SQLite's JSON cuts it off.)
"""

from __future__ import annotations

import numpy as np
import pytest

from lambdarag.storage.base import (
    DocStatusRecord,
    EntityFragment,
    RelationFragment,
    StorageFactory,
    sorted_pair,
)

HOSTILE_KEYS = [
    "O'Brien",
    'say "hi"',
    "back\\slash\\",
    "\\x00 \\n literally",
    "x'); DROP TABLE nodes;--",
    "1' OR '1'='1",
    "%",
    "_",
    "a%b_c",
    "[abc]*?",
    "g.V().drop()",
    "g.V().has('name', within('a','b')).iterate()",
    "*:*",
    "name:(a OR b) AND NOT c~2^3",
    '{"$gt": ""}',
    "$(rm -rf /) `id` %s {0}",
    "<|#|>",
    "entity<|#|>Evil<|#|>person<|#|>planted",
    "<|COMPLETE|>",
    "a<SEP>b",
    "<SEP>",
    "東京タワー",
    "مرحبا بالعالم",
    "שלום עולם",
    "\u202eevil\u202c",
    "🚀 👩\u200d💻",
    "e\u0301 combining",
    "esc\x1b[31m red",
    "tab\tand\nnewline",
    "  padded  ",
    "長" * 256,
]
IDS = [f"k{i}" for i in range(len(HOSTILE_KEYS))]
ANCHOR = "Anchor"
DIM = 8


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(1, DIM)).astype(np.float32)


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=IDS)
class TestHostileKeys:
    """Each store round-trips ``key`` as a key and as a value, and finds exactly it."""

    async def test_kv(self, factory: StorageFactory, key: str) -> None:
        store = factory.kv("entity_chunks")
        await store.upsert({key: {"name": key}, ANCHOR: {"name": ANCHOR}})
        assert await store.get_by_id(key) == {"name": key}
        assert await store.get_by_ids([key, ANCHOR]) == [{"name": key}, {"name": ANCHOR}]
        assert await store.filter_keys([key, "other"]) == {"other"}
        assert await store.keys() == sorted([key, ANCHOR])
        assert await store.keys(key) == [key]
        await store.delete([key])
        assert await store.keys() == [ANCHOR]

    async def test_doc_status(self, factory: StorageFactory, key: str) -> None:
        store = factory.doc_status()
        record = DocStatusRecord(
            id=key, status="processed", content_summary=key, content_length=len(key),
            file_path=key, created_at="2025-01-01T00:00:00+00:00",
            updated_at="2025-01-01T00:00:00+00:00", track_id=key, chunks_count=1,
            chunks_list=[f"{key}-chunk-000"], error_msg=key, metadata={key: key},
            content_hash=key,
        )
        other = DocStatusRecord(**{**record, "id": "doc-other", "file_path": "other.txt",
                                   "track_id": "t", "content_hash": "h"})
        await store.upsert([record, other])
        assert await store.get(key) == record
        assert await store.by_file_path(key) == [record]
        assert await store.by_track_id(key) == [record]
        assert await store.by_content_hash(key) == [record]
        page = await store.page(statuses=["processed"], page=1, page_size=10,
                                sort_field="file_path", sort_direction="asc")
        assert sorted(r["id"] for r in page.documents) == sorted([key, "doc-other"])
        await store.delete([key])
        assert await store.get(key) is None
        assert await store.get("doc-other") == other

    async def test_fragments(self, factory: StorageFactory, key: str) -> None:
        store = factory.fragments()
        chunk = f"{key}-chunk"
        src, tgt = sorted_pair(key, ANCHOR)
        entity = EntityFragment(entity_name=key, chunk_id=chunk, entity_type="person",
                                description=key, file_path=key, timestamp=1)
        relation = RelationFragment(src_id=src, tgt_id=tgt, chunk_id=chunk, keywords=key,
                                    description=key, weight=1.0, file_path=key, timestamp=1)
        await store.put_chunk_fragments(chunk, [entity], [relation])
        assert (await store.entity_fragments([key]))[key] == [entity]
        assert (await store.relation_fragments([(ANCHOR, key)]))[(src, tgt)] == [relation]
        assert await store.keys_for_chunks([chunk]) == ({key}, {(src, tgt)})
        assert await store.keys_for_chunks([chunk + "x", "%", "_"]) == (set(), set())
        await store.delete_chunks([chunk])
        assert (await store.entity_fragments([key]))[key] == []

    async def test_vectors(self, factory: StorageFactory, key: str) -> None:
        store = factory.vectors("entities", DIM)
        items = [{"id": key, "entity_name": key, "full_doc_id": key},
                 {"id": ANCHOR, "entity_name": ANCHOR, "full_doc_id": "doc-anchor"}]
        await store.upsert(items, np.vstack([vector(1), vector(2)]))
        assert await store.get_by_ids([key]) == [items[0]]
        assert set(await store.get_vectors([key])) == {key}
        hits = await store.query(vector(1)[0], 5, threshold=-1.0, doc_id=key)
        assert [(h["id"], h["entity_name"]) for h in hits] == [(key, key)]  # type: ignore[typeddict-item]
        await store.delete([key])
        assert await store.get_by_ids([key, ANCHOR]) == [None, items[1]]
        assert await store.count() == 1

    async def test_graph(self, factory: StorageFactory, key: str) -> None:
        graph = factory.graph()
        props = {"entity_id": key, "entity_type": "person", "description": key,
                 "source_id": key, "file_path": key, "created_at": 1}
        await graph.upsert_nodes({key: props, ANCHOR: {**props, "entity_id": ANCHOR}})
        await graph.upsert_edges({(key, ANCHOR): {"weight": 1.0, "description": key,
                                                  "keywords": key, "source_id": key}})
        assert await graph.has_node(key) is True
        assert (await graph.get_nodes([key]))[key] == props
        edges = await graph.get_edges([(ANCHOR, key), (key, ANCHOR)])
        assert edges[(ANCHOR, key)]["description"] == key == edges[(key, ANCHOR)]["keywords"]
        assert await graph.node_degrees([key]) == {key: 1}
        assert await graph.node_edges([key]) == {key: [(key, ANCHOR)]}
        assert await graph.ranked_edges([key]) == [(sorted_pair(key, ANCHOR), 2)]
        assert sorted(await graph.all_labels()) == sorted([key, ANCHOR])
        assert set(await graph.popular_labels(10)) == {key, ANCHOR}
        sub = await graph.subgraph(key, 1, 10)
        assert {n["id"] for n in sub.nodes} == {key, ANCHOR}
        assert [e["id"] for e in sub.edges] == ["-".join(sorted_pair(key, ANCHOR))]
        await graph.delete_edges([(ANCHOR, key)])
        assert await graph.node_degrees([key, ANCHOR]) == {key: 0, ANCHOR: 0}
        await graph.delete_nodes([key])
        assert await graph.all_labels() == [ANCHOR]

    async def test_label_search_matches_the_key_as_plain_text(
        self, factory: StorageFactory, key: str
    ) -> None:
        graph = factory.graph()
        names = [key, ANCHOR, "plain name", "a_b", "x%y", "a.b*c"]
        await graph.upsert_nodes({name: {"entity_id": name} for name in dict.fromkeys(names)})
        found = await graph.search_labels(key, 50)
        assert found[0] == key
        needle = key.lower().strip()
        assert sorted(found) == sorted(n for n in set(names) if needle in n.lower())


async def test_keys_differing_in_case_or_normal_form_stay_distinct(
    factory: StorageFactory,
) -> None:
    # GIVEN names that a case- or accent-insensitive backend would fold together
    names = ["acme", "Acme", "ACME", "caf\u00e9", "cafe\u0301", "ﬁle", "file", "Ⅸ", "IX"]
    kv, graph = factory.kv("entity_chunks"), factory.graph()
    await kv.upsert({name: {"name": name} for name in names})
    await graph.upsert_nodes({name: {"entity_id": name} for name in names})
    # THEN each is its own key
    assert await kv.get_by_ids(names) == [{"name": name} for name in names]
    assert sorted(await kv.keys()) == sorted(names)
    assert sorted(await graph.all_labels()) == sorted(names)
    assert set(await graph.get_nodes(names)) == set(names)
    await graph.delete_nodes(["Acme", "cafe\u0301"])
    assert sorted(await graph.all_labels()) == sorted(set(names) - {"Acme", "cafe\u0301"})


async def test_key_prefixes_are_not_patterns(factory: StorageFactory) -> None:
    store = factory.kv("llm_response_cache")
    keys = ["a_b", "axb", "a%b", "aXb", "a.b", "a*b", "a[b]", "a\\b", "a'b"]
    await store.upsert({key: {} for key in keys})
    for prefix in ("a_", "a%", "a.", "a*", "a[", "a\\", "a'"):
        assert await store.keys(prefix) == [key for key in sorted(keys) if key.startswith(prefix)]
