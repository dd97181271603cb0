"""Extraction fragments in the DynamoDB table, with a manifest per chunk.

Items:

* entity fragment: ``pk = partition(ws, "ent", name)``, ``sk = key_part(chunk_id)``;
  merging reads one partition per entity name (a strongly consistent Query).
* relation fragment: ``pk = partition(ws, "rel", json([src, tgt]))`` (sorted pair),
  ``sk = key_part(chunk_id)``.
* chunk manifest: ``pk = partition(ws, "frag-chunks")``, ``sk = key_part(chunk_id)``, its
  value the entity names and pairs the chunk wrote.

The manifest, not a GSI, answers "what did chunk C write": GSIs are eventually
consistent, and a re-extraction that missed one of C's fresh fragments would leave it
behind. ``put_chunk_fragments`` keeps the manifest a superset of C's items at every
step (union written first, new items put, stale items deleted, final manifest written),
so a crash halfway leaves nothing unlisted and the retry cleans up. ``drop`` reads the
manifest partition and deletes what the manifests list.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from lambdarag.storage.base import EntityFragment, FragmentStorage, RelationFragment, sorted_pair
from lambdarag.storage.dynamodb.table import DynamoTable, Item, Key, key_part, partition

logger = logging.getLogger(__name__)

Pair = tuple[str, str]


class DynamoFragmentStorage(FragmentStorage):
    """One workspace's fragments; a chunk's fragments are replaced as a unit.

    Within one chunk, a repeated entity name or pair keeps the last fragment given.
    """

    def __init__(self, table: DynamoTable, workspace: str) -> None:
        self._table = table
        self._workspace = workspace
        self._manifests = partition(workspace, "frag-chunks")

    async def put_chunk_fragments(self, chunk_id: str, entities: Sequence[EntityFragment],
                                  relations: Sequence[RelationFragment]) -> None:
        entity_rows = dict(_entity(chunk_id, fragment) for fragment in entities)
        relation_rows = dict(_relation(chunk_id, fragment) for fragment in relations)
        sk = key_part(chunk_id)

        def write() -> None:
            old_names, old_pairs = self._manifest_keys([chunk_id]).get(chunk_id, (set(), set()))
            names, pairs = set(entity_rows), set(relation_rows)
            if not (old_names | old_pairs | names | pairs):
                return
            self._write_manifest(chunk_id, old_names | names, old_pairs | pairs)
            puts = [self._table.pack({"pk": self._entity_pk(n), "sk": sk}, d)
                    for n, d in entity_rows.items()]
            puts += [self._table.pack({"pk": self._relation_pk(p), "sk": sk}, d)
                     for p, d in relation_rows.items()]
            self._table.write_many_sync(puts=puts)
            stale = [(self._entity_pk(n), sk) for n in old_names - names]
            stale += [(self._relation_pk(p), sk) for p in old_pairs - pairs]
            self._table.delete_keys_sync(stale)
            if names or pairs:
                self._write_manifest(chunk_id, names, pairs)
            else:
                self._table.delete_keys_sync([(self._manifests, sk)])

        await self._table.run(write)

    async def entity_fragments(self, names: Sequence[str]) -> dict[str, list[EntityFragment]]:
        wanted = list(dict.fromkeys(names))
        found = await self._table.run_many(
            [lambda name=name: self._partition_values(self._entity_pk(name)) for name in wanted]
        )
        return dict(zip(wanted, found, strict=True))

    async def relation_fragments(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[RelationFragment]]:
        """Fragments keyed by the sorted pair, whichever orientation was asked for."""
        wanted = list(dict.fromkeys(sorted_pair(*pair) for pair in pairs))
        found = await self._table.run_many(
            [lambda pair=pair: self._partition_values(self._relation_pk(pair)) for pair in wanted]
        )
        return dict(zip(wanted, found, strict=True))

    async def keys_for_chunks(
        self, chunk_ids: Sequence[str]
    ) -> tuple[set[str], set[tuple[str, str]]]:
        wanted = list(dict.fromkeys(chunk_ids))
        if not wanted:
            return set(), set()
        manifests = await self._table.run(self._manifest_keys, wanted)
        names: set[str] = set()
        pairs: set[Pair] = set()
        for chunk_names, chunk_pairs in manifests.values():
            names |= chunk_names
            pairs |= chunk_pairs
        return names, pairs

    async def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        wanted = list(dict.fromkeys(chunk_ids))
        if wanted:
            await self._table.run(self._delete_chunks, wanted)

    async def ensure(self) -> None:
        await self._table.ensure()

    async def drop(self) -> None:
        def write() -> int:
            chunks = [item["c"] for item in self._table.query_sync(self._manifests, attributes=["c"])]
            self._delete_chunks(chunks)
            return len(chunks)

        count = await self._table.run(write)
        logger.info("dropped fragments of %d chunks", count)

    # -- worker thread ---------------------------------------------------------

    def _entity_pk(self, name: str) -> str:
        return partition(self._workspace, "ent", name)

    def _relation_pk(self, pair: Pair) -> str:
        return partition(self._workspace, "rel", json.dumps(list(pair), ensure_ascii=False))

    def _partition_values(self, pk: str) -> list[Any]:
        return _ordered([self._table.unpack(item) for item in self._table.query_sync(pk)])

    def _manifest_keys(self, chunk_ids: list[str]) -> dict[str, tuple[set[str], set[Pair]]]:
        found = self._table.get_many_sync((self._manifests, key_part(c)) for c in chunk_ids)
        manifests: dict[str, tuple[set[str], set[Pair]]] = {}
        for item in found.values():
            value = self._table.unpack(item)
            manifests[item["c"]] = (set(value["entities"]),
                                    {(src, tgt) for src, tgt in value["pairs"]})
        return manifests

    def _write_manifest(self, chunk_id: str, names: set[str], pairs: set[Pair]) -> None:
        item: Item = {"pk": self._manifests, "sk": key_part(chunk_id), "c": chunk_id}
        value = {"entities": sorted(names), "pairs": [list(pair) for pair in sorted(pairs)]}
        self._table.write_many_sync(puts=[self._table.pack(item, value)])

    def _delete_chunks(self, chunk_ids: list[str]) -> None:
        manifests = self._manifest_keys(chunk_ids)
        keys: list[Key] = []
        for chunk_id, (names, pairs) in manifests.items():
            sk = key_part(chunk_id)
            keys += [(self._entity_pk(name), sk) for name in names]
            keys += [(self._relation_pk(pair), sk) for pair in pairs]
        self._table.delete_keys_sync(keys)  # fragments first: the manifests still list them
        self._table.delete_keys_sync([(self._manifests, key_part(c)) for c in manifests])


def _entity(chunk_id: str, fragment: EntityFragment) -> tuple[str, dict[str, Any]]:
    name = fragment.get("entity_name")
    if not name:
        raise ValueError(f"entity fragment without entity_name: {fragment!r}")
    return name, {**fragment, "chunk_id": chunk_id}


def _relation(chunk_id: str, fragment: RelationFragment) -> tuple[Pair, dict[str, Any]]:
    src, tgt = fragment.get("src_id"), fragment.get("tgt_id")
    if not src or not tgt:
        raise ValueError(f"relation fragment without src_id/tgt_id: {fragment!r}")
    src, tgt = sorted_pair(src, tgt)
    return (src, tgt), {**fragment, "src_id": src, "tgt_id": tgt, "chunk_id": chunk_id}


def _ordered(fragments: list[Any]) -> list[Any]:
    """Fragments of one key by (timestamp, chunk_id)."""
    return sorted(
        fragments, key=lambda fragment: (fragment.get("timestamp") or 0, fragment["chunk_id"])
    )
