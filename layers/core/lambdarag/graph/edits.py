"""Graph edits made through the API, written on the fragment model.

Design (see docs/DEVELOPMENT.md "The fragment model"):

* **Edits are fragments.** A user edit of entity ``N`` is stored as an entity fragment
  with the synthetic chunk id ``manual-<md5(N)>`` (a relation edit of the sorted pair
  ``(A, B)`` as ``manual-<md5(A+B)>``) and a timestamp later than every other fragment
  of the key. The key is then re-merged with ``merge_entities`` / ``merge_relations``.
* **The node shows exactly what the user set.** ``indexing/merge.py`` treats manual
  fragments as authoritative: the description (a relation's keywords and weight)
  restarts from the user's value and grows only with fragments newer than the edit,
  and a manual entity type wins over extracted ones. So:
  - a later document mentioning the key *extends* the user's description;
  - deleting a document forces a rebuild that reproduces the user's values plus the
    evidence added after the edit, never the evidence the edit replaced;
  - fields a user leaves out stay empty in the manual fragment and keep following
    the extracted evidence (editing only the type does not freeze the description).
  After the merge the node (edge) is overlaid with the remaining user values
  (``source_id``, ``file_path``) under the key's lock, and re-embedded when its text
  changed.
* **Deletes and renames rewrite fragments.** Fragments live per chunk, so removing or
  re-keying the fragments of one key rewrites every chunk that mentions it (read the
  chunk's fragments, change them, write them back). A deleted entity (and its
  relations) therefore has no fragment left and a rebuild cannot bring it back; a
  renamed entity's fragments (and its relations' fragments) keep their chunk ids under
  the new name, so its edges follow it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lambdarag.errors import LambdaRAGError
from lambdarag.indexing.merge import (
    entity_vector_id,
    merge_entities,
    merge_relations,
    relation_key,
    relation_vector_id,
)
from lambdarag.storage.base import (
    GRAPH_FIELD_SEP,
    EntityFragment,
    RelationFragment,
    sorted_pair,
)
from lambdarag.utils import mdhash, now_unix, pair_hash
from lambdarag.workspace.workspace import Workspace

Pair = tuple[str, str]
ChunkFragments = tuple[list[EntityFragment], list[RelationFragment]]
Transform = Callable[[list[EntityFragment], list[RelationFragment]], ChunkFragments]

ENTITY_EDIT_KEYS = frozenset({"entity_name", "entity_type", "description", "source_id", "file_path"})
RELATION_EDIT_KEYS = frozenset({"description", "keywords", "source_id", "file_path", "weight"})
MANUAL_FILE_PATH = "manual_creation"


class GraphOpError(LambdaRAGError, ValueError):
    """A rejected edit (answered 400, the message as ``detail``)."""

    http_status = 400


class GraphNotFoundError(LambdaRAGError, LookupError):
    """The entity or relation does not exist (answered 404 by delete routes)."""

    http_status = 404


@dataclass(frozen=True)
class EditResult:
    """The outcome of an entity edit: final properties and what happened."""

    data: dict[str, Any]
    final_name: str
    renamed: bool
    merged: bool


# ------------------------------------------------------------------ ids and helpers


def manual_entity_chunk(name: str) -> str:
    """The synthetic chunk id of the user's edits of entity ``name``."""
    return mdhash(name, "manual-")


def manual_relation_chunk(src: str, tgt: str) -> str:
    """The synthetic chunk id of the user's edits of the relation ``src``-``tgt``."""
    return pair_hash(src, tgt, "manual-")


def _later_than(fragments: Iterable[EntityFragment | RelationFragment]) -> int:
    """Now, or one second after the newest fragment when the clock is behind."""
    newest = max((int(f.get("timestamp", 0)) for f in fragments), default=0)
    return max(now_unix(), newest + 1)


def entity_data(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """The API view of a node: its properties plus ``entity_name``."""
    return {"entity_name": name, **props}


def relation_data(pair: Pair, props: dict[str, Any]) -> dict[str, Any]:
    """The API view of an edge: its properties plus ``src_id`` / ``tgt_id``."""
    return {"src_id": pair[0], "tgt_id": pair[1], **props}


# ------------------------------------------------------------- chunk rewriting


async def _chunk_fragments(ws: Workspace, chunk_id: str) -> ChunkFragments:
    """Every fragment one chunk wrote."""
    fragments = ws.stores.fragments
    names, pairs = await fragments.keys_for_chunks([chunk_id])
    ents = await fragments.entity_fragments(sorted(names)) if names else {}
    rels = await fragments.relation_fragments(sorted(pairs)) if pairs else {}
    return (
        [f for fs in ents.values() for f in fs if f["chunk_id"] == chunk_id],
        [f for fs in rels.values() for f in fs if f["chunk_id"] == chunk_id],
    )


async def _rewrite_chunks(ws: Workspace, chunk_ids: Iterable[str], transform: Transform) -> None:
    """Apply ``transform`` to the fragments of each chunk and write them back."""
    fragments = ws.stores.fragments
    for chunk_id in sorted(set(chunk_ids)):
        ents, rels = transform(*await _chunk_fragments(ws, chunk_id))
        if ents or rels:
            await fragments.put_chunk_fragments(chunk_id, ents, rels)
        else:
            await fragments.delete_chunks([chunk_id])


async def _entity_chunk_ids(ws: Workspace, name: str) -> set[str]:
    found = await ws.stores.fragments.entity_fragments([name])
    return {f["chunk_id"] for f in found[name]}


async def _relation_chunk_ids(ws: Workspace, pairs: Sequence[Pair]) -> set[str]:
    if not pairs:
        return set()
    found = await ws.stores.fragments.relation_fragments(list(pairs))
    return {f["chunk_id"] for fs in found.values() for f in fs}


async def _pairs_of(ws: Workspace, name: str) -> list[Pair]:
    """Sorted pairs of the node's edges."""
    edges = await ws.stores.graph.node_edges([name])
    return sorted({sorted_pair(*e) for e in edges[name]})


async def _pairs_in_fragments(ws: Workspace, chunk_ids: Iterable[str], name: str) -> set[Pair]:
    """Pairs touching ``name`` that have a fragment in ``chunk_ids``."""
    ids = sorted(set(chunk_ids))
    if not ids:
        return set()
    _, pairs = await ws.stores.fragments.keys_for_chunks(ids)
    return {p for p in pairs if name in p}


# --------------------------------------------------------------------- overlays


async def _overlay_node(ws: Workspace, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """Write ``values`` over the merged node and re-embed it when its text changed."""
    graph = ws.stores.graph
    async with ws.locks.hold([f"e:{name}"]):
        current = (await graph.get_nodes([name])).get(name, {})
        props = {**current, **values, "entity_id": name}
        await graph.upsert_nodes({name: props})
    changed = (current.get("description"), current.get("entity_type")) != (
        props.get("description"), props.get("entity_type")
    )
    missing = await ws.stores.entities_vdb.get_by_ids([entity_vector_id(name)]) == [None]
    if changed or missing:
        await _embed_entity(ws, name, props)
    return props


async def _embed_entity(ws: Workspace, name: str, props: dict[str, Any]) -> None:
    item = {
        "id": entity_vector_id(name), "entity_name": name,
        "entity_type": props.get("entity_type", ""),
        "content": f"{name}\n{props.get('description', '')}",
        "source_id": props.get("source_id", ""), "file_path": props.get("file_path", ""),
    }
    await ws.stores.entities_vdb.upsert([item], await ws.embedder.embed([item["content"]]))


async def _overlay_edge(ws: Workspace, pair: Pair, values: dict[str, Any]) -> dict[str, Any]:
    """Write ``values`` over the merged edge and re-embed it."""
    graph = ws.stores.graph
    async with ws.locks.hold([f"r:{relation_key(*pair)}"]):
        current = (await graph.get_edges([pair])).get(pair, {})
        props = {**current, **values}
        if "weight" in props:
            props["weight"] = float(props["weight"])
        await graph.upsert_edges({pair: props})
    content = f"{props.get('keywords', '')}\t{pair[0]}\n{pair[1]}\n{props.get('description', '')}"
    item = {
        "id": relation_vector_id(*pair), "src_id": pair[0], "tgt_id": pair[1],
        "keywords": props.get("keywords", ""), "description": props.get("description", ""),
        "weight": props.get("weight", 1.0), "content": content,
        "source_id": props.get("source_id", ""), "file_path": props.get("file_path", ""),
    }
    await ws.stores.relationships_vdb.upsert([item], await ws.embedder.embed([content]))
    return props


# ---------------------------------------------------------------- manual fragments


async def _write_manual_entity(ws: Workspace, name: str, values: dict[str, Any]) -> None:
    """Store (or update) the user's fragment of ``name`` and re-merge the entity."""
    chunk_id = manual_entity_chunk(name)
    existing = (await ws.stores.fragments.entity_fragments([name]))[name]
    previous = next((f for f in existing if f["chunk_id"] == chunk_id), None)
    before: dict[str, Any] = dict(previous or {})
    fragment = EntityFragment(
        entity_name=name,
        chunk_id=chunk_id,
        entity_type=str(values.get("entity_type") or before.get("entity_type", "")),
        description=str(values.get("description", before.get("description", ""))),
        file_path=str(values.get("file_path", before.get("file_path", ""))),
        timestamp=_later_than(existing),
    )

    def replace(ents: list[EntityFragment], rels: list[RelationFragment]) -> ChunkFragments:
        return [*(f for f in ents if f["entity_name"] != name), fragment], rels

    await _rewrite_chunks(ws, [chunk_id], replace)
    if "description" in values:  # the description restarts from the user's text
        await ws.stores.entity_chunks.delete([name])
    await merge_entities([name], ws.merge_context())


async def _write_manual_relation(ws: Workspace, pair: Pair, values: dict[str, Any]) -> None:
    """Store (or update) the user's fragment of ``pair`` and re-merge the relation."""
    chunk_id = manual_relation_chunk(*pair)
    existing = (await ws.stores.fragments.relation_fragments([pair]))[pair]
    previous: dict[str, Any] = dict(next((f for f in existing if f["chunk_id"] == chunk_id), {}))
    fragment = RelationFragment(
        src_id=pair[0],
        tgt_id=pair[1],
        chunk_id=chunk_id,
        keywords=str(values.get("keywords", previous.get("keywords", ""))),
        description=str(values.get("description", previous.get("description", ""))),
        weight=float(values.get("weight", previous.get("weight", 0.0))),  # 0: not set
        file_path=str(values.get("file_path", previous.get("file_path", ""))),
        timestamp=_later_than(existing),
    )

    def replace(ents: list[EntityFragment], rels: list[RelationFragment]) -> ChunkFragments:
        others = [f for f in rels if (f["src_id"], f["tgt_id"]) != pair]
        return ents, [*others, fragment]

    await _rewrite_chunks(ws, [chunk_id], replace)
    if "description" in values:  # the description restarts from the user's text
        await ws.stores.relation_chunks.delete([relation_key(*pair)])
    await merge_relations([pair], ws.merge_context())


# ------------------------------------------------------------------------- reads


async def get_entity(ws: Workspace, name: str) -> dict[str, Any] | None:
    """The node's properties, or None."""
    return (await ws.stores.graph.get_nodes([name])).get(name)


async def get_relation(ws: Workspace, src: str, tgt: str) -> dict[str, Any] | None:
    """The edge's properties (either orientation), or None."""
    pair = sorted_pair(src, tgt)
    return (await ws.stores.graph.get_edges([pair])).get(pair)


# ---------------------------------------------------------------------- creates


def _check_new_name(name: str, what: str = "Entity name") -> None:
    """A name about to be stored: not empty, no control characters (as extraction ensures)."""
    if not name:
        raise GraphOpError(f"{what} cannot be empty")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise GraphOpError(f"{what} must not contain control characters (tabs, line breaks, "
                           "NUL, escapes)")


async def create_entity(ws: Workspace, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Create entity ``name`` from ``data`` (description, entity_type, ...)."""
    name = name.strip()
    _check_new_name(name)
    if await ws.stores.graph.has_node(name):
        raise GraphOpError(f"Entity '{name}' already exists")
    values = {k: v for k, v in data.items() if k not in {"entity_name", "entity_id"}}
    values.setdefault("description", "")
    values.setdefault("file_path", MANUAL_FILE_PATH)
    await _write_manual_entity(ws, name, values)
    scalars = {k: v for k, v in values.items() if isinstance(v, str | int | float | bool)}
    return entity_data(name, await _overlay_node(ws, name, scalars))


async def create_relation(
    ws: Workspace, source: str, target: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create the relation ``source``-``target``; both entities must exist."""
    graph = ws.stores.graph
    for name in (source, target):
        if not await graph.has_node(name):
            raise GraphOpError(f"Entity '{name}' does not exist")
    if source == target:
        raise GraphOpError("A relation needs two different entities")
    pair = sorted_pair(source, target)
    if await get_relation(ws, *pair) is not None:
        raise GraphOpError(f"Relation from '{source}' to '{target}' already exists")
    values = {k: v for k, v in data.items() if k not in {"src_id", "tgt_id"}}
    _check_weight(values)
    values.setdefault("description", "")
    values.setdefault("keywords", "")
    values.setdefault("file_path", MANUAL_FILE_PATH)
    await _write_manual_relation(ws, pair, values)
    scalars = {k: v for k, v in values.items() if isinstance(v, str | int | float | bool)}
    return relation_data(pair, await _overlay_edge(ws, pair, scalars))


# ------------------------------------------------------------------------ edits


def _check_entity_update(updated: dict[str, Any]) -> None:
    extra = sorted(set(updated) - ENTITY_EDIT_KEYS)
    if extra:
        raise GraphOpError(
            f"Fields {extra} cannot be updated; allowed: {sorted(ENTITY_EDIT_KEYS)}"
        )
    bad = sorted(k for k, v in updated.items() if not isinstance(v, str))
    if bad:
        raise GraphOpError(f"Fields {bad} must be strings")


async def edit_entity(
    ws: Workspace,
    name: str,
    updated: dict[str, Any],
    *,
    allow_rename: bool = False,
    allow_merge: bool = False,
) -> EditResult:
    """Update (and optionally rename, or merge into another entity) entity ``name``."""
    _check_entity_update(updated)
    graph = ws.stores.graph
    if not await graph.has_node(name):
        raise GraphOpError(f"Entity '{name}' does not exist")
    new_name = str(updated.get("entity_name", name)).strip()
    renamed = merged = False
    if new_name != name:
        _check_new_name(new_name)
        if not allow_rename:
            raise GraphOpError("Renaming is not allowed (set allow_rename to true)")
        merged = await graph.has_node(new_name)
        if merged and not allow_merge:
            raise GraphOpError(f"Entity name '{new_name}' already exists, cannot rename")
        await rekey_entity(ws, name, new_name)
        renamed = True
    fields = {k: v for k, v in updated.items() if k != "entity_name"}
    props = await _apply_entity_fields(ws, new_name, fields)
    return EditResult(entity_data(new_name, props), new_name, renamed, merged)


async def _apply_entity_fields(ws: Workspace, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Write the user's fragment and overlay the node; returns the node's properties."""
    if fields:
        await _write_manual_entity(ws, name, fields)
        return await _overlay_node(ws, name, fields)
    return await get_entity(ws, name) or {}


def _check_relation_update(updated: dict[str, Any]) -> None:
    extra = sorted(set(updated) - RELATION_EDIT_KEYS)
    if extra:
        raise GraphOpError(
            f"Fields {extra} cannot be updated; allowed: {sorted(RELATION_EDIT_KEYS)}"
        )
    _check_weight(updated)
    for key, value in updated.items():
        if key != "weight" and not isinstance(value, str):
            raise GraphOpError(f"Field '{key}' must be a string")


def _check_weight(values: dict[str, Any]) -> None:
    """A relation weight, when given, is a finite non-negative number."""
    if "weight" not in values:
        return
    value = values["weight"]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        raise GraphOpError("Field 'weight' must be a non-negative number")


async def edit_relation(
    ws: Workspace, source: str, target: str, updated: dict[str, Any]
) -> dict[str, Any]:
    """Update the relation ``source``-``target`` with the user's values."""
    _check_relation_update(updated)
    pair = sorted_pair(source, target)
    if await get_relation(ws, *pair) is None:
        raise GraphOpError(f"Relation from '{source}' to '{target}' does not exist")
    if updated:
        await _write_manual_relation(ws, pair, updated)
        return relation_data(pair, await _overlay_edge(ws, pair, updated))
    return relation_data(pair, await get_relation(ws, *pair) or {})


# ----------------------------------------------------------------- rename / merge


def _combine_entity(kept: EntityFragment, extra: EntityFragment) -> EntityFragment:
    """Two fragments of one chunk that now share a name: keep both descriptions."""
    parts = [kept.get("description", ""), extra.get("description", "")]
    joined = GRAPH_FIELD_SEP.join(dict.fromkeys(p for p in parts if p))
    return EntityFragment(**{**kept, "description": joined})


def _combine_relation(kept: RelationFragment, extra: RelationFragment) -> RelationFragment:
    """Two fragments of one chunk that now share a pair: union their texts, add weights."""
    desc = [kept.get("description", ""), extra.get("description", "")]
    words = [kept.get("keywords", ""), extra.get("keywords", "")]
    return RelationFragment(**{
        **kept,
        "description": GRAPH_FIELD_SEP.join(dict.fromkeys(d for d in desc if d)),
        "keywords": ",".join(dict.fromkeys(w for w in words if w)),
        "weight": float(kept.get("weight", 1.0)) + float(extra.get("weight", 1.0)),
    })


def _rekey_transform(old: str, new: str) -> Transform:
    """A chunk transform that moves ``old``'s fragments to ``new``."""

    def rename(n: str) -> str:
        return new if n == old else n

    def transform(ents: list[EntityFragment], rels: list[RelationFragment]) -> ChunkFragments:
        by_name: dict[str, EntityFragment] = {}
        for f in sorted(ents, key=lambda f: f["entity_name"] == old):
            moved = EntityFragment(**{**f, "entity_name": rename(f["entity_name"])})
            key = moved["entity_name"]
            by_name[key] = _combine_entity(by_name[key], moved) if key in by_name else moved
        by_pair: dict[Pair, RelationFragment] = {}
        for f in rels:
            a, b = rename(f["src_id"]), rename(f["tgt_id"])
            if a == b:
                continue
            pair = sorted_pair(a, b)
            moved = RelationFragment(**{**f, "src_id": pair[0], "tgt_id": pair[1]})
            by_pair[pair] = _combine_relation(by_pair[pair], moved) if pair in by_pair else moved
        return list(by_name.values()), list(by_pair.values())

    return transform


async def rekey_entity(ws: Workspace, old: str, new: str) -> None:
    """Move every fragment of ``old`` (and of its relations) to ``new``, then re-merge.

    When ``new`` exists this merges ``old`` into it; relations between the two vanish.
    """
    old_props = await get_entity(ws, old) or {}
    old_pairs = set(await _pairs_of(ws, old))
    chunks = await _entity_chunk_ids(ws, old) | await _relation_chunk_ids(ws, sorted(old_pairs))
    old_pairs |= await _pairs_in_fragments(ws, chunks, old)
    await _rewrite_chunks(ws, chunks, _rekey_transform(old, new))
    new_pairs = {sorted_pair(new, b if a == old else a) for a, b in old_pairs} - {(new, new)}
    # Fragments of chunks ``new`` already reflected may have changed (combined), so
    # forget what the current texts reflect: the merges rebuild them.
    await ws.stores.entity_chunks.delete([new])
    await ws.stores.relation_chunks.delete([relation_key(*p) for p in new_pairs])
    ctx = ws.merge_context()
    await merge_entities([new], ctx)
    await merge_relations(sorted(old_pairs | new_pairs), ctx)
    await merge_entities([old], ctx)
    await _drop_node(ws, old)
    if not await ws.stores.graph.has_node(new):
        await _overlay_node(ws, new, {**old_props, "entity_id": new})


async def merge_entities_into(ws: Workspace, sources: Sequence[str], target: str) -> dict[str, Any]:
    """Merge each of ``sources`` into ``target`` (created when absent)."""
    target = target.strip()
    _check_new_name(target, "Target entity name")
    names = list(dict.fromkeys(s for s in sources if s != target))
    if not names:
        raise GraphOpError("No entities to merge")
    for name in names:
        if not await ws.stores.graph.has_node(name):
            raise GraphOpError(f"Entity '{name}' does not exist")
    for name in names:
        await rekey_entity(ws, name, target)
    return entity_data(target, await get_entity(ws, target) or {})


# ---------------------------------------------------------------------- deletes


async def _drop_node(ws: Workspace, name: str) -> None:
    """Remove a node left over without fragments (and its vector)."""
    if await ws.stores.graph.has_node(name):
        pairs = await _pairs_of(ws, name)
        await ws.stores.graph.delete_nodes([name])
        await ws.stores.relationships_vdb.delete([relation_vector_id(*p) for p in pairs])
        await ws.stores.relation_chunks.delete([relation_key(*p) for p in pairs])
    await ws.stores.entities_vdb.delete([entity_vector_id(name)])
    await ws.stores.entity_chunks.delete([name])


async def delete_entity(ws: Workspace, name: str) -> None:
    """Delete entity ``name``, its relations and all their fragments."""
    if not await ws.stores.graph.has_node(name):
        raise GraphNotFoundError(f"Entity '{name}' not found")
    pairs = set(await _pairs_of(ws, name))
    chunks = await _entity_chunk_ids(ws, name) | await _relation_chunk_ids(ws, sorted(pairs))
    pairs |= await _pairs_in_fragments(ws, chunks, name)

    def drop(ents: list[EntityFragment], rels: list[RelationFragment]) -> ChunkFragments:
        return (
            [f for f in ents if f["entity_name"] != name],
            [f for f in rels if name not in (f["src_id"], f["tgt_id"])],
        )

    await _rewrite_chunks(ws, chunks, drop)
    ctx = ws.merge_context()
    await merge_relations(sorted(pairs), ctx)
    await merge_entities([name], ctx)
    await _drop_node(ws, name)


async def delete_relation(ws: Workspace, source: str, target: str) -> None:
    """Delete the relation ``source``-``target`` and its fragments."""
    pair = sorted_pair(source, target)
    if await get_relation(ws, *pair) is None:
        raise GraphNotFoundError(f"Relation from '{source}' to '{target}' not found")
    chunks = await _relation_chunk_ids(ws, [pair])

    def drop(ents: list[EntityFragment], rels: list[RelationFragment]) -> ChunkFragments:
        return ents, [f for f in rels if (f["src_id"], f["tgt_id"]) != pair]

    await _rewrite_chunks(ws, chunks, drop)
    await merge_relations([pair], ws.merge_context())
    if await get_relation(ws, *pair) is not None:
        await ws.stores.graph.delete_edges([pair])
        await ws.stores.relationships_vdb.delete([relation_vector_id(*pair)])
