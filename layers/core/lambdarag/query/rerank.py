"""Reordering retrieved chunks by the reranker's relevance score (``RERANK_BINDING``)."""

from __future__ import annotations

from typing import Any

from lambdarag.query.param import QueryParam
from lambdarag.workspace.workspace import Workspace


def rerank_wanted(ws: Workspace, param: QueryParam) -> bool:
    """The query's ``enable_rerank`` (else ``RERANK_BY_DEFAULT``), when a reranker is set."""
    enabled = ws.query.rerank_by_default if param.enable_rerank is None else param.enable_rerank
    return enabled and ws.reranker is not None


async def rerank_chunks(
    ws: Workspace, query: str, chunks: list[dict[str, Any]], top_n: int
) -> list[dict[str, Any]]:
    """The best ``top_n`` chunks by relevance, best first, each with its ``rerank_score``.

    Chunks scoring under ``MIN_RERANK_SCORE`` are dropped when it is above 0 (LightRAG's
    rule: at 0, rerankers whose scores go negative still reorder without cutting).
    """
    if ws.reranker is None or not chunks:
        return chunks
    ranked = await ws.reranker.rerank(query, [c["content"] for c in chunks], top_n)
    floor = ws.query.min_rerank_score
    return [{**chunks[index], "rerank_score": score} for index, score in ranked
            if floor <= 0 or score >= floor]
