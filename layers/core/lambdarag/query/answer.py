"""Answering a query: retrieve, build the prompt, call the LLM (cached or streamed)."""

from __future__ import annotations

import json
from typing import Any

from lambdarag.llm import prompts
from lambdarag.query import retrieve
from lambdarag.query.context import (
    assign_references,
    budget_for,
    chunk_budget,
    fit_chunks,
    kg_search,
    render_context,
)
from lambdarag.query.keywords import extract_keywords
from lambdarag.query.param import QueryParam, QueryResult, Retrieval
from lambdarag.query.rerank import rerank_chunks, rerank_wanted
from lambdarag.utils import mdhash
from lambdarag.workspace.workspace import Workspace

SHORT_QUERY = 50
CACHE_POLICY = "2"  # "2": the key covers the retrieved context


def _fail() -> QueryResult:
    return QueryResult(response=prompts.FAIL_RESPONSE, llm_generated=False)


def _user_prompt_slot(ws: Workspace, param: QueryParam) -> str:
    prefix = "" if param.disable_user_prompt_prefix else ws.query.user_prompt_prefix
    text = "\n\n".join(p for p in (prefix.strip(), (param.user_prompt or "").strip()) if p)
    return text or "n/a"


def _chunks_only(param: QueryParam) -> bool:
    """Naive mode, or an answer restricted to some documents: chunks, no graph."""
    return param.mode == "naive" or bool(param.doc_ids)


def system_prompt(ws: Workspace, param: QueryParam, context: str) -> str:
    naive = _chunks_only(param)
    template = prompts.NAIVE_RAG_RESPONSE if naive else prompts.RAG_RESPONSE
    field = "content_data" if naive else "context_data"
    return template.format(
        response_type=param.response_type, user_prompt=_user_prompt_slot(ws, param), **{field: context}
    )


async def retrieve_context(ws: Workspace, query: str, param: QueryParam) -> Retrieval | None:
    """Everything the answer prompt needs, or None when nothing relevant was found."""
    budget = budget_for(ws, param)
    hl: list[str] = []
    ll: list[str] = []
    if param.doc_ids:
        [vector] = await ws.embedder.embed([query])
        scoped = await retrieve.document_chunks(ws, param.doc_ids, vector, budget.chunk_top_k)
        if not scoped:
            return None
        found = Retrieval(processing_info={"total_chunks_found": len(scoped)})
        return await _finish(ws, param, query, found, scoped)
    if param.mode != "naive":
        hl, ll = await extract_keywords(ws, query, param)
        if not hl and not ll:
            if len(query) >= SHORT_QUERY:
                return None
            ll = [query]
    texts = {"query": query, "ll": ", ".join(ll), "hl": ", ".join(hl)}
    wanted = {k: v for k, v in texts.items() if v}
    rows = await ws.embedder.embed(list(wanted.values()))
    vectors = dict(zip(wanted, rows, strict=True))
    result = Retrieval(high_level_keywords=hl, low_level_keywords=ll)
    if param.mode == "naive":
        found = await retrieve.vector_chunks(ws, vectors["query"], budget.chunk_top_k)
        if not found:
            return None
        result.processing_info = {"total_chunks_found": len(found)}
        return await _finish(ws, param, query, result, found)
    vector_hits = []
    if param.mode == "mix":
        vector_hits = await retrieve.vector_chunks(ws, vectors["query"], budget.chunk_top_k)
    kg = await kg_search(ws, param.mode, hl, ll, vectors, budget)
    if not kg.entities and not kg.relations and not vector_hits:
        return None
    result.entities, result.relations = kg.entities, kg.relations
    merged = retrieve.round_robin(
        vector_hits, kg.entity_chunks, kg.relation_chunks, key=lambda c: c["chunk_id"]
    )
    result.processing_info = {
        "total_entities_found": kg.found_entities,
        "total_relations_found": kg.found_relations,
        "entities_after_truncation": len(kg.entities),
        "relations_after_truncation": len(kg.relations),
        "merged_chunks_count": len(merged),
    }
    return await _finish(ws, param, query, result, merged)


async def _finish(
    ws: Workspace, param: QueryParam, query: str, result: Retrieval, chunks: list[dict[str, Any]]
) -> Retrieval:
    naive = _chunks_only(param)
    empty_context = render_context(result, naive)
    available = chunk_budget(ws, param, query, empty_context, system_prompt(ws, param, ""))
    chunk_top_k = budget_for(ws, param).chunk_top_k
    if rerank_wanted(ws, param):
        chunks = await rerank_chunks(ws, query, chunks, chunk_top_k)
    result.chunks = fit_chunks(chunks, chunk_top_k, available)
    result.references = assign_references(result.chunks)
    result.processing_info["final_chunks_count"] = len(result.chunks)
    result.context = render_context(result, naive)
    return result


def _answer_cache_key(ws: Workspace, param: QueryParam, query: str, found: Retrieval) -> str:
    """The answer's cache key. It covers the retrieved context, so once the data changes
    (a document deleted or edited) a cached answer built from the old data is not reused;
    the context also tells reranked chunks from unranked ones."""
    material = [
        CACHE_POLICY, param.mode, query, param.response_type, budget_for(ws, param).__dict__,
        param.max_total_tokens or ws.query.max_total_tokens, found.high_level_keywords,
        found.low_level_keywords, _user_prompt_slot(ws, param), param.enable_rerank is not False,
        ws.llm.llm.identity, mdhash(found.context),
    ]
    return f"{param.mode}:query:{mdhash(json.dumps(material, ensure_ascii=False, sort_keys=True))}"


async def aquery(
    ws: Workspace, query: str, param: QueryParam, *, prompt: str | None = None
) -> QueryResult:
    """Answer ``query`` in ``param.mode``; see QueryResult for the shapes.

    ``prompt`` is the user turn sent to the LLM when it differs from the text retrieval
    uses (a chat "continue" instruction); it defaults to ``query`` and is never cached.
    """
    history = list(param.conversation_history)
    asked = query if prompt is None else prompt
    if param.mode == "bypass":
        if param.stream:
            return QueryResult(stream=ws.llm.stream(asked, history=history))
        text, _ = await ws.llm.complete(asked, history=history, cache_type="query", use_cache=False)
        return QueryResult(response=text)
    found = await retrieve_context(ws, query, param)
    if found is None:
        return _fail()
    references = found.references
    if param.only_need_context:
        return QueryResult(response=found.context, references=references, llm_generated=False,
                           retrieval=found)
    system = system_prompt(ws, param, found.context)
    if param.only_need_prompt:
        return QueryResult(response=f"{system}\n\n{prompts.USER_QUERY_SEPARATOR}\n{query}",
                           references=references, llm_generated=False, retrieval=found)
    cacheable = ws.query.enable_llm_cache and not history and prompt is None
    key = _answer_cache_key(ws, param, query, found)
    if cacheable:
        hit = await ws.llm.cache.get_by_id(key)
        if hit and isinstance(hit.get("return"), str):
            ws.llm.usage.cache_hits += 1
            return QueryResult(response=hit["return"], references=references, retrieval=found)
    if param.stream:
        stream = ws.llm.stream(asked, system_prompt=system, history=history)
        return QueryResult(stream=stream, references=references, retrieval=found)
    text, _ = await ws.llm.complete(
        asked, system_prompt=system, history=history, cache_type="query",
        use_cache=cacheable, mode=param.mode, key=key,
    )
    return QueryResult(response=text, references=references, retrieval=found)
