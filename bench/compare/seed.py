"""Build a LambdaRAG store of N entities cheaply, straight through the storage contracts.

No LLM and no HTTP: the records are those the pipeline would write for documents whose
chunks each mention ten entities of their own plus two of fifty "hub" entities (which
so gather many fragments), with one relation per consecutive pair of a chunk. Vectors
are the fake provider's embeddings (``tests.fakes.brain.embed``), computed in bulk with
numpy, so that questions embedded by the fake find related entities.

Runs as its own process with the backend's environment (LIGHTRAG_*_STORAGE and the
connection settings), like the server that then serves the store::

    python -m bench.compare.seed --entities 10000          # build, print a JSON summary
    python -m bench.compare.seed --drop                    # remove the workspace's data
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import numpy as np
from tests.fakes import brain

from lambdarag.config import load_settings
from lambdarag.indexing.merge import entity_vector_id, relation_key, relation_vector_id
from lambdarag.llm.tokenizer import count_tokens
from lambdarag.runtime import build_engine
from lambdarag.storage.base import GRAPH_FIELD_SEP, sorted_pair
from lambdarag.utils import chunk_id_for, mdhash, now_iso, now_unix

SYLLABLES = ["ka", "ri", "mo", "te", "lu", "sa", "no", "vi", "da", "pe", "zo", "fu", "ga", "hi",
             "jo", "be"]
PLACES = ["Berlin", "Porto", "Kyoto", "Lagos", "Quito", "Oslo", "Perth", "Dakar"]
TOPICS = ["solar storage", "river ecology", "quantum sensors", "urban farming", "deep sea mapping"]
VERBS = ["met", "hired", "advised", "funded", "visited", "studied", "criticised", "praised"]
OWN, HUBS, CHUNKS_PER_DOC, BATCH = 10, 50, 10, 2000


def _word(n: int) -> str:
    digits = [SYLLABLES[(n >> shift) & 15] for shift in (8, 4, 0)]
    return "".join(digits).capitalize()


def entity_name(i: int) -> str:
    """A unique two-word capitalised name (the fake's extraction sees it as a person)."""
    return f"{_word(i % 4096)} {_word(i // 4096 + 7)}"


def _chunk_entities(c: int) -> list[int]:
    hubs = [c % HUBS, (c * 7 + 3) % HUBS]
    own = [HUBS + c * OWN + k for k in range(OWN)]
    return list(dict.fromkeys([hubs[0], *own[:5], hubs[1], *own[5:]]))


def _sentence(a: str, b: str, k: int) -> str:
    return (f"{a} {VERBS[k % len(VERBS)]} {b} in {PLACES[k % len(PLACES)]} about the "
            f"{TOPICS[k % len(TOPICS)]} programme last year.")


def embed_many(texts: list[str], dim: int) -> np.ndarray:
    """``brain.embed`` for many texts at once (same vectors, numpy instead of lists)."""
    matrix = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for digest in brain.token_digests(text):
            matrix[row, digest % dim] += 1.0
            matrix[row, (digest // dim) % dim] += 0.5
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    matrix[norms[:, 0] == 0, 0] = 1.0
    return matrix


class Plan:
    """What N entities' documents would have stored, in batches of chunks."""

    def __init__(self, entities: int) -> None:
        self.chunks = max(1, (entities - HUBS) // OWN)
        self.entities = HUBS + self.chunks * OWN
        self.names = [entity_name(i) for i in range(self.entities)]

    def doc_of(self, c: int) -> str:
        return mdhash(f"seed-doc-{c // CHUNKS_PER_DOC}", "doc-")

    def chunk(self, c: int) -> tuple[str, list[str], str]:
        members = [self.names[i] for i in _chunk_entities(c)]
        text = " ".join(_sentence(a, b, c + k) for k, (a, b) in enumerate(zip(members, members[1:], strict=False)))
        return chunk_id_for(self.doc_of(c), c % CHUNKS_PER_DOC), members, text


async def _write_batch(ws: Any, plan: Plan, first: int, last: int, dim: int,
                       hub_chunks: dict[str, list[str]]) -> int:
    stores = ws.stores
    stamp = now_unix()
    chunk_records, chunk_items = {}, []
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for c in range(first, last):
        cid, members, text = plan.chunk(c)
        doc_id, path = plan.doc_of(c), f"seed{c // CHUNKS_PER_DOC:06d}.txt"
        chunk_records[cid] = {"content": text, "tokens": count_tokens(text),
                              "chunk_order_index": c % CHUNKS_PER_DOC, "full_doc_id": doc_id,
                              "file_path": path, "llm_cache_list": []}
        chunk_items.append({"id": cid, "full_doc_id": doc_id, "file_path": path, "content": text})
        sentences = brain.sentences(text)
        entity_fragments = []
        for name in members:
            said = next(s for s in sentences if name in s)
            description = f"{name} is mentioned: {said}"
            entity_fragments.append({"entity_name": name, "chunk_id": cid, "entity_type": "person",
                                     "description": description, "file_path": path,
                                     "timestamp": stamp})
            if name in hub_chunks:
                hub_chunks[name].append(cid)
            else:
                nodes[name] = {"entity_id": name, "entity_type": "person", "description": description,
                               "source_id": cid, "file_path": path, "created_at": stamp,
                               "truncate": ""}
        relation_fragments = []
        for k, (a, b) in enumerate(zip(members, members[1:], strict=False)):
            src, tgt = sorted_pair(a, b)
            description = sentences[k] if k < len(sentences) else f"{a} and {b}"
            relation_fragments.append({"src_id": src, "tgt_id": tgt, "chunk_id": cid,
                                       "keywords": VERBS[(c + k) % len(VERBS)],
                                       "description": description, "weight": 1.0,
                                       "file_path": path, "timestamp": stamp})
            edges[(src, tgt)] = {"weight": 1.0, "description": description,
                                 "keywords": VERBS[(c + k) % len(VERBS)], "source_id": cid,
                                 "file_path": path, "created_at": stamp, "truncate": ""}
        await stores.fragments.put_chunk_fragments(cid, entity_fragments, relation_fragments)
    await stores.text_chunks.upsert(chunk_records)
    await stores.chunks_vdb.upsert(chunk_items, embed_many([i["content"] for i in chunk_items], dim))
    await _write_graph(stores, nodes, edges, dim)
    return len(nodes)


async def _write_graph(stores: Any, nodes: dict[str, dict[str, Any]],
                       edges: dict[tuple[str, str], dict[str, Any]], dim: int) -> None:
    if nodes:
        await stores.graph.upsert_nodes(nodes)
        items = [{"id": entity_vector_id(n), "entity_name": n, "entity_type": p["entity_type"],
                  "content": f"{n}\n{p['description']}", "source_id": p["source_id"],
                  "file_path": p["file_path"]} for n, p in nodes.items()]
        await stores.entities_vdb.upsert(items, embed_many([i["content"] for i in items], dim))
        await stores.entity_chunks.upsert({n: {"chunk_ids": [p["source_id"]], "count": 1}
                                           for n, p in nodes.items()})
    if edges:
        await stores.graph.upsert_edges(edges)
        items = [{"id": relation_vector_id(*p), "src_id": p[0], "tgt_id": p[1],
                  "keywords": v["keywords"], "description": v["description"], "weight": v["weight"],
                  "content": f"{v['keywords']}\t{p[0]}\n{p[1]}\n{v['description']}",
                  "source_id": v["source_id"], "file_path": v["file_path"]} for p, v in edges.items()]
        await stores.relationships_vdb.upsert(items, embed_many([i["content"] for i in items], dim))
        await stores.relation_chunks.upsert({relation_key(*p): {"chunk_ids": [v["source_id"]],
                                                                "count": 1} for p, v in edges.items()})


async def _write_hubs(ws: Any, plan: Plan, hub_chunks: dict[str, list[str]], dim: int) -> None:
    stamp = now_unix()
    nodes = {}
    for name, chunk_ids in hub_chunks.items():
        if not chunk_ids:
            continue
        nodes[name] = {"entity_id": name, "entity_type": "person",
                       "description": f"{name} (summary): {name} appears in "
                                      f"{len(chunk_ids)} reports.",
                       "source_id": GRAPH_FIELD_SEP.join(chunk_ids[:200]), "file_path": "seed",
                       "created_at": stamp, "truncate": ""}
    await _write_graph(ws.stores, nodes, {}, dim)
    await ws.stores.entity_chunks.upsert({n: {"chunk_ids": ids, "count": len(ids)}
                                          for n, ids in hub_chunks.items() if ids})


async def _write_docs(ws: Any, plan: Plan) -> None:
    docs: dict[str, list[str]] = {}
    for c in range(plan.chunks):
        docs.setdefault(plan.doc_of(c), []).append(plan.chunk(c)[0])
    stamp = now_iso()
    records = []
    for n, (doc_id, chunk_ids) in enumerate(docs.items()):
        path = f"seed{n:06d}.txt"
        records.append({"id": doc_id, "status": "processed", "content_summary": path,
                        "content_length": 1000 * len(chunk_ids), "file_path": path,
                        "created_at": stamp, "updated_at": stamp, "track_id": "seed",
                        "chunks_count": len(chunk_ids), "chunks_list": chunk_ids,
                        "error_msg": None, "metadata": {}, "content_hash": mdhash(doc_id)})
    for start in range(0, len(records), 500):
        await ws.stores.doc_status.upsert(records[start:start + 500])


async def build(entities: int) -> dict[str, Any]:
    settings = load_settings()
    engine = build_engine(settings)
    started = time.perf_counter()
    try:
        ws = await engine.workspace()
        await ws.stores.ensure()
        plan = Plan(entities)
        hub_chunks: dict[str, list[str]] = {plan.names[i]: [] for i in range(HUBS)}
        await ws.stores.graph.upsert_nodes(  # edges need their endpoints; rewritten at the end
            {n: {"entity_id": n, "entity_type": "person", "description": n, "source_id": "",
                 "file_path": "seed", "created_at": now_unix(), "truncate": ""}
             for n in hub_chunks})
        per_batch = max(1, BATCH // OWN)
        for first in range(0, plan.chunks, per_batch):
            await _write_batch(ws, plan, first, min(plan.chunks, first + per_batch),
                               settings.embedding_dim, hub_chunks)
        await _write_hubs(ws, plan, hub_chunks, settings.embedding_dim)
        await _write_docs(ws, plan)
        nodes, edges = await ws.stores.graph.counts()
    finally:
        await engine.aclose()
    return {"entities": nodes, "relations": edges, "chunks": plan.chunks,
            "build_s": time.perf_counter() - started, "names": plan.names[HUBS:HUBS + 400:4]}


async def drop() -> None:
    engine = build_engine(load_settings())
    try:
        ws = await engine.workspace()
        await ws.stores.drop_documents()
        await ws.stores.llm_response_cache.drop()
    finally:
        await engine.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    if args.drop:
        asyncio.run(drop())
        return
    print(json.dumps(asyncio.run(build(args.entities))))


if __name__ == "__main__":
    main()
