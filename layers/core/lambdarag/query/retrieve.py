"""Retrieval for the KG modes (local, global, hybrid, mix) and naive."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from itertools import zip_longest
from typing import TYPE_CHECKING, Any

from lambdarag.indexing.chunking import CHUNK_META_KEYS
from lambdarag.llm import tokenizer
from lambdarag.storage.base import GRAPH_FIELD_SEP, sorted_pair
from lambdarag.workspace.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np


EDGE_PAGE = 64  # relations read at a time while filling the relation budget


@dataclass(frozen=True)
class Budget:
    top_k: int
    chunk_top_k: int
    max_entity_tokens: int
    max_relation_tokens: int


@dataclass
class KGResult:
    entities: list[dict[str, Any]]
    relations: list[dict[str, Any]]
    entity_chunks: list[dict[str, Any]]
    relation_chunks: list[dict[str, Any]]
    found_entities: int
    found_relations: int


def round_robin(*lists: list[Any], key: Any) -> list[Any]:
    """Interleave lists (first list first), keeping the first occurrence of each key."""
    seen: set[Any] = set()
    merged = []
    for group in zip_longest(*lists):
        for item in group:
            if item is not None and key(item) not in seen:
                seen.add(key(item))
                merged.append(item)
    return merged


def truncate_by_tokens(items: list[dict[str, Any]], render: Any, limit: int) -> list[dict[str, Any]]:
    kept, used = [], 0
    for item in items:
        used += tokenizer.count_tokens(render(item))
        if used > limit:
            break
        kept.append(item)
    return kept


def entity_line(e: dict[str, Any]) -> str:
    return json.dumps({"entity": e["entity_name"], "type": e.get("entity_type", ""),
                       "description": e.get("description", "")}, ensure_ascii=False)


def relation_line(r: dict[str, Any]) -> str:
    return json.dumps({"entity1": r["src_id"], "entity2": r["tgt_id"],
                       "description": r.get("description", "")}, ensure_ascii=False)


# --------------------------------------------------------------------- vectors


async def vector_chunks(ws: Workspace, vector: np.ndarray, top_k: int) -> list[dict[str, Any]]:
    hits = await ws.stores.chunks_vdb.query(vector, top_k, threshold=ws.query.cosine_threshold)
    return [{"chunk_id": h["id"], "content": h.get("content", ""),
             "file_path": h.get("file_path", "unknown_source"), "score": h["score"],
             **chunk_meta(h)}
            for h in hits]


async def document_chunks(
    ws: Workspace, doc_ids: tuple[str, ...], vector: np.ndarray, top_k: int
) -> list[dict[str, Any]]:
    """The chunks of ``doc_ids`` most similar to ``vector``, best first."""
    records = await ws.stores.doc_status.get_many(list(doc_ids))
    candidates = list(dict.fromkeys(c for r in records if r for c in r.get("chunks_list") or ()))
    if not candidates:
        return []
    scores = await ws.stores.chunks_vdb.similarities(candidates, vector)
    chosen = sorted(scores, key=lambda cid: (-scores[cid], cid))[:top_k]
    texts = await ws.stores.text_chunks.get_by_ids(chosen)
    return [{"chunk_id": cid, "content": r.get("content", ""),
             "file_path": r.get("file_path", "unknown_source"), "score": scores[cid],
             **chunk_meta(r)}
            for cid, r in zip(chosen, texts, strict=True) if r]


def chunk_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The section numbers (pages, slides, sheets) a stored chunk carries, if any."""
    return {key: record[key] for key in CHUNK_META_KEYS if key in record}


# ------------------------------------------------------------------------ local


async def local_entities(ws: Workspace, vector: np.ndarray, top_k: int) -> list[dict[str, Any]]:
    hits = await ws.stores.entities_vdb.query(vector, top_k, threshold=ws.query.cosine_threshold)
    names = list(dict.fromkeys(h.get("entity_name") for h in hits if h.get("entity_name")))
    return await _entities(ws, names)


async def _entities(ws: Workspace, names: list[str]) -> list[dict[str, Any]]:
    graph = ws.stores.graph
    nodes = await graph.get_nodes(names)
    degrees = await graph.node_degrees([n for n in names if n in nodes])
    return [{**nodes[n], "entity_name": n, "rank": degrees.get(n, 0)} for n in names if n in nodes]


async def edges_of(
    ws: Workspace, entities: list[dict[str, Any]], max_tokens: int
) -> tuple[list[dict[str, Any]], int]:
    """The entities' relations, best first (rank, then weight), and how many there are.

    Only as many are read as ``max_tokens`` could hold: the context keeps relations in
    this order (interleaved with others, each after all of its predecessors) until the
    budget is spent, so a hub's thousands of edges are ranked but never loaded.
    """
    graph = ws.stores.graph
    ranked = await graph.ranked_edges([e["entity_name"] for e in entities])
    relations: list[dict[str, Any]] = []
    used = 0
    for start in range(0, len(ranked), EDGE_PAGE):
        page = ranked[start : start + EDGE_PAGE]
        props = await graph.get_edges([pair for pair, _ in page])
        for pair, rank in page:
            if pair in props:
                relation = _relation(pair, props[pair], rank)
                relations.append(relation)
                used += tokenizer.count_tokens(relation_line(relation))
        if used > max_tokens:
            break
    return relations, len(ranked)


async def _relations(ws: Workspace, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    graph = ws.stores.graph
    data = await graph.get_edges(pairs)
    degrees = await graph.node_degrees(sorted({n for p in data for n in p}))
    return [_relation(p, data[p], degrees.get(p[0], 0) + degrees.get(p[1], 0))
            for p in pairs if p in data]


def _relation(pair: tuple[str, str], props: dict[str, Any], rank: int) -> dict[str, Any]:
    """A relation as the context shows it: the edge's properties, its ends and its rank."""
    return {**props, "src_id": pair[0], "tgt_id": pair[1], "rank": rank}


# ----------------------------------------------------------------------- global


async def global_relations(ws: Workspace, vector: np.ndarray, top_k: int) -> list[dict[str, Any]]:
    hits = await ws.stores.relationships_vdb.query(vector, top_k, threshold=ws.query.cosine_threshold)
    pairs = list(dict.fromkeys(sorted_pair(h["src_id"], h["tgt_id"]) for h in hits
                               if h.get("src_id") and h.get("tgt_id")))
    return await _relations(ws, pairs)


async def endpoints_of(ws: Workspace, relations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(n for r in relations for n in (r["src_id"], r["tgt_id"])))
    return await _entities(ws, names)


# ------------------------------------------------------------------------ chunks


async def related_chunks(
    ws: Workspace,
    items: list[dict[str, Any]],
    query_vector: np.ndarray,
    exclude: set[str],
) -> list[dict[str, Any]]:
    """Chunks named by the items' source_id, picked per KG_CHUNK_PICK_METHOD."""
    per_item = [[c for c in str(i.get("source_id", "")).split(GRAPH_FIELD_SEP) if c and c not in exclude]
                for i in items]
    counts = Counter(c for ids in per_item for c in ids)
    if not counts:
        return []
    options = ws.query
    if options.kg_chunk_pick_method == "WEIGHT":
        chosen = _pick_by_weight(per_item, counts, options.related_chunk_number)
    else:
        limit = max(1, options.related_chunk_number * len(items) // 2)
        chosen = await _pick_by_vector(ws, list(counts), query_vector, limit)
    records = await ws.stores.text_chunks.get_by_ids(chosen)
    return [{"chunk_id": cid, "content": r.get("content", ""),
             "file_path": r.get("file_path", "unknown_source"), **chunk_meta(r)}
            for cid, r in zip(chosen, records, strict=True) if r]


def _pick_by_weight(per_item: list[list[str]], counts: Counter[str], top: int) -> list[str]:
    """Linear gradient: ``top`` chunks for the first item down to 1 for the last."""
    chosen: list[str] = []
    n = len(per_item)
    for index, ids in enumerate(per_item):
        quota = max(1, round(top - (top - 1) * index / max(n - 1, 1)))
        ranked = sorted(dict.fromkeys(ids), key=lambda c: -counts[c])
        chosen += [c for c in ranked if c not in chosen][:quota]
    return chosen


async def _pick_by_vector(
    ws: Workspace, candidates: list[str], query_vector: np.ndarray, limit: int
) -> list[str]:
    scores = await ws.stores.chunks_vdb.similarities(candidates, query_vector)
    return sorted(scores, key=lambda cid: (-scores[cid], cid))[:limit]
