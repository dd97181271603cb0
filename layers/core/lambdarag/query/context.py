"""Building the retrieval result: modes, budgets, references, context text."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from lambdarag.indexing.chunking import CHUNK_META_KEYS
from lambdarag.llm import prompts, tokenizer
from lambdarag.query import retrieve
from lambdarag.query.param import QueryParam, Retrieval
from lambdarag.query.retrieve import Budget, KGResult
from lambdarag.utils import UNKNOWN_SOURCE
from lambdarag.workspace.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np

TOKEN_MARGIN = 200


def budget_for(ws: Workspace, param: QueryParam) -> Budget:
    defaults = ws.query
    return Budget(
        top_k=param.top_k or defaults.top_k,
        chunk_top_k=param.chunk_top_k or defaults.chunk_top_k,
        max_entity_tokens=param.max_entity_tokens or defaults.max_entity_tokens,
        max_relation_tokens=param.max_relation_tokens or defaults.max_relation_tokens,
    )


async def kg_search(
    ws: Workspace,
    mode: str,
    hl: list[str],
    ll: list[str],
    vectors: dict[str, np.ndarray],
    budget: Budget,
) -> KGResult:
    """Entities and relations for local/global/hybrid/mix, with their related chunks."""
    local_e: list[dict[str, Any]] = []
    local_r: list[dict[str, Any]] = []
    local_total = 0
    global_e: list[dict[str, Any]] = []
    global_r: list[dict[str, Any]] = []
    if mode == "local" and ll:
        use_local, use_global = True, False
    elif mode == "global" and hl:
        use_local, use_global = False, True
    else:  # hybrid, mix, and local/global without their own keywords
        use_local, use_global = bool(ll), bool(hl)
    if use_local:
        local_e = await retrieve.local_entities(ws, vectors["ll"], budget.top_k)
        local_r, local_total = await retrieve.edges_of(ws, local_e, budget.max_relation_tokens)
    if use_global:
        global_r = await retrieve.global_relations(ws, vectors["hl"], budget.top_k)
        global_e = await retrieve.endpoints_of(ws, global_r)
    entities = retrieve.round_robin(local_e, global_e, key=lambda e: e["entity_name"])
    relations = retrieve.round_robin(local_r, global_r, key=lambda r: (r["src_id"], r["tgt_id"]))
    # Relations of the local side beyond what the budget could hold were counted, not read.
    found = (len(entities), len(relations) + local_total - len(local_r))
    entities = retrieve.truncate_by_tokens(entities, retrieve.entity_line, budget.max_entity_tokens)
    relations = retrieve.truncate_by_tokens(relations, retrieve.relation_line, budget.max_relation_tokens)
    entity_chunks = await retrieve.related_chunks(ws, entities, vectors["query"], set())
    taken = {c["chunk_id"] for c in entity_chunks}
    relation_chunks = await retrieve.related_chunks(ws, relations, vectors["query"], taken)
    return KGResult(entities, relations, entity_chunks, relation_chunks, *found)


def assign_references(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number the files of ``chunks`` by chunk count (then first appearance); tag each chunk.

    A file whose chunks carry section numbers gets them too: ``"pages"``, ``"slides"``
    or ``"sheets"``, sorted and unique over the chunks used from that file.
    """
    counts = Counter(c["file_path"] for c in chunks if c["file_path"] != UNKNOWN_SOURCE)
    order = {path: i for i, path in enumerate(dict.fromkeys(c["file_path"] for c in chunks))}
    ranked = sorted(counts, key=lambda p: (-counts[p], order[p]))
    ids = {path: str(i + 1) for i, path in enumerate(ranked)}
    for chunk in chunks:
        chunk["reference_id"] = ids.get(chunk["file_path"], "")
    return [{"reference_id": ids[p], "file_path": p, **_sections_used(chunks, p)} for p in ranked]


def _sections_used(chunks: list[dict[str, Any]], path: str) -> dict[str, list[Any]]:
    """Sorted unique pages/slides/sheets of the chunks from ``path``; empty for plain text."""
    used: dict[str, set[Any]] = {}
    for chunk in chunks:
        if chunk["file_path"] == path:
            for key in CHUNK_META_KEYS:
                used.setdefault(key, set()).update(chunk.get(key) or ())
    return {key: sorted(values, key=str if key == "sheets" else None) for key, values in used.items()
            if values}


def render_context(result: Retrieval, naive: bool) -> str:
    chunk_lines = "\n".join(
        json.dumps({"reference_id": c["reference_id"], "content": c["content"]}, ensure_ascii=False)
        for c in result.chunks
    )
    references = "\n".join(f"[{r['reference_id']}] {r['file_path']}" for r in result.references)
    if naive:
        return prompts.NAIVE_CONTEXT.format(text_chunks_str=chunk_lines, reference_list_str=references)
    return prompts.KG_CONTEXT.format(
        entities_str="\n".join(retrieve.entity_line(e) for e in result.entities),
        relations_str="\n".join(retrieve.relation_line(r) for r in result.relations),
        text_chunks_str=chunk_lines,
        reference_list_str=references,
    )


def fit_chunks(
    chunks: list[dict[str, Any]], chunk_top_k: int, budget_tokens: int
) -> list[dict[str, Any]]:
    kept, used = [], 0
    for chunk in chunks[:chunk_top_k]:
        line = json.dumps({"reference_id": "", "content": chunk["content"]}, ensure_ascii=False)
        used += tokenizer.count_tokens(line)
        if used > budget_tokens:
            break
        kept.append(chunk)
    return kept


def chunk_budget(ws: Workspace, param: QueryParam, query: str, kg_context: str, system: str) -> int:
    total = param.max_total_tokens or ws.query.max_total_tokens
    fixed = tokenizer.count_tokens(system) + tokenizer.count_tokens(kg_context)
    return max(0, total - fixed - tokenizer.count_tokens(query) - TOKEN_MARGIN)
