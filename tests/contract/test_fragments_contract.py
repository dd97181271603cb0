"""FragmentStorage contract."""

from __future__ import annotations

from lambdarag.storage.base import EntityFragment, RelationFragment, StorageFactory, sorted_pair


def entity(name: str, chunk_id: str, timestamp: int, description: str = "") -> EntityFragment:
    return EntityFragment(
        entity_name=name,
        chunk_id=chunk_id,
        entity_type="person",
        description=description or f"{name} in {chunk_id}",
        file_path="f.txt",
        timestamp=timestamp,
    )


def relation(src: str, tgt: str, chunk_id: str, timestamp: int) -> RelationFragment:
    return RelationFragment(
        src_id=src,
        tgt_id=tgt,
        chunk_id=chunk_id,
        keywords="k",
        description=f"{src}->{tgt} in {chunk_id}",
        weight=1.5,
        file_path="f.txt",
        timestamp=timestamp,
    )


async def test_entity_fragments_are_ordered_by_timestamp_then_chunk(
    factory: StorageFactory,
) -> None:
    # GIVEN fragments of one entity from three chunks written out of order
    store = factory.fragments()
    await store.put_chunk_fragments("chunk-b", [entity("Alice", "chunk-b", 5)], [])
    await store.put_chunk_fragments("chunk-c", [entity("Alice", "chunk-c", 1)], [])
    await store.put_chunk_fragments("chunk-a", [entity("Alice", "chunk-a", 5)], [])

    # WHEN reading them (and an entity without fragments)
    found = await store.entity_fragments(["Alice", "Nobody"])

    # THEN they come back whole, ordered by (timestamp, chunk_id); unknown names map to []
    assert [f["chunk_id"] for f in found["Alice"]] == ["chunk-c", "chunk-a", "chunk-b"]
    assert found["Alice"][0] == entity("Alice", "chunk-c", 1)
    assert found["Nobody"] == []


async def test_rewriting_a_chunk_replaces_its_fragments(factory: StorageFactory) -> None:
    # GIVEN chunk-1 said things about Alice, Bob and (Alice, Bob); chunk-2 about Alice
    store = factory.fragments()
    await store.put_chunk_fragments(
        "chunk-1",
        [entity("Alice", "chunk-1", 1, "old"), entity("Bob", "chunk-1", 1)],
        [relation("Alice", "Bob", "chunk-1", 1)],
    )
    await store.put_chunk_fragments("chunk-2", [entity("Alice", "chunk-2", 2)], [])

    # WHEN chunk-1 is extracted again, now only mentioning Alice (twice, to prove idempotency)
    for _ in range(2):
        await store.put_chunk_fragments("chunk-1", [entity("Alice", "chunk-1", 3, "new")], [])

    # THEN chunk-1's old fragments are gone and chunk-2's are untouched
    entities = await store.entity_fragments(["Alice", "Bob"])
    assert [(f["chunk_id"], f["description"]) for f in entities["Alice"]] == [
        ("chunk-2", "Alice in chunk-2"),
        ("chunk-1", "new"),
    ]
    assert entities["Bob"] == []
    assert await store.relation_fragments([("Alice", "Bob")]) == {("Alice", "Bob"): []}


async def test_relation_pairs_are_stored_sorted_and_found_in_either_orientation(
    factory: StorageFactory,
) -> None:
    # GIVEN relations written with src > tgt and with src < tgt
    store = factory.fragments()
    await store.put_chunk_fragments("chunk-2", [], [relation("Zed", "Amy", "chunk-2", 2)])
    await store.put_chunk_fragments("chunk-1", [], [relation("Amy", "Zed", "chunk-1", 1)])

    # WHEN asking with either orientation
    forward = await store.relation_fragments([("Amy", "Zed")])
    backward = await store.relation_fragments([("Zed", "Amy")])

    # THEN both answer under the sorted pair, with sorted src/tgt in every fragment
    assert forward == backward
    fragments = forward[("Amy", "Zed")]
    assert [f["chunk_id"] for f in fragments] == ["chunk-1", "chunk-2"]
    assert {(f["src_id"], f["tgt_id"]) for f in fragments} == {("Amy", "Zed")}
    assert fragments[0]["weight"] == 1.5
    assert await store.relation_fragments([("No", "Body")]) == {("Body", "No"): []}


async def test_keys_for_chunks_lists_entities_and_sorted_pairs(factory: StorageFactory) -> None:
    # GIVEN three chunks
    store = factory.fragments()
    await store.put_chunk_fragments("c1", [entity("A", "c1", 1)], [relation("B", "A", "c1", 1)])
    await store.put_chunk_fragments("c2", [entity("B", "c2", 1)], [relation("C", "B", "c2", 1)])
    await store.put_chunk_fragments("c3", [entity("Z", "c3", 1)], [])

    # WHEN asking which keys two of them touched
    names, pairs = await store.keys_for_chunks(["c1", "c2", "unknown"])

    # THEN their entity names and sorted pairs come back
    assert names == {"A", "B"}
    assert pairs == {("A", "B"), ("B", "C")}
    assert await store.keys_for_chunks([]) == (set(), set())


async def test_delete_chunks_removes_only_their_fragments(factory: StorageFactory) -> None:
    # GIVEN two chunks mentioning the same entity and pair
    store = factory.fragments()
    for chunk_id in ("c1", "c2"):
        await store.put_chunk_fragments(
            chunk_id, [entity("A", chunk_id, 1)], [relation("A", "B", chunk_id, 1)]
        )

    # WHEN one chunk is deleted
    await store.delete_chunks(["c1", "unknown"])
    await store.delete_chunks([])

    # THEN only the other chunk's fragments remain
    assert [f["chunk_id"] for f in (await store.entity_fragments(["A"]))["A"]] == ["c2"]
    assert [f["chunk_id"] for f in (await store.relation_fragments([("A", "B")]))[("A", "B")]] == [
        "c2"
    ]
    assert await store.keys_for_chunks(["c1"]) == (set(), set())


async def test_awkward_entity_names_roundtrip(factory: StorageFactory) -> None:
    # GIVEN entity names with quotes, backslashes, unicode and the tuple delimiter
    store = factory.fragments()
    names = ['O"Brien', "back\\slash", "東京", "<|#|>", "it's"]
    await store.put_chunk_fragments(
        "c", [entity(name, "c", 1) for name in names], [relation(names[0], names[3], "c", 1)]
    )

    # WHEN reading them back
    found = await store.entity_fragments(names)
    pair = sorted_pair(names[0], names[3])

    # THEN each name has its fragment
    assert {name: [f["entity_name"] for f in found[name]] for name in names} == {
        n: [n] for n in names
    }
    assert len((await store.relation_fragments([pair]))[pair]) == 1


async def test_drop_removes_every_fragment(factory: StorageFactory) -> None:
    store = factory.fragments()
    await store.put_chunk_fragments("c", [entity("A", "c", 1)], [relation("A", "B", "c", 1)])

    await store.drop()

    assert await store.entity_fragments(["A"]) == {"A": []}
    assert await store.keys_for_chunks(["c"]) == (set(), set())
