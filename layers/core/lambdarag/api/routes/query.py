"""``/query`` and ``/query/stream``: answers from the knowledge base."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from lambdarag import prompts
from lambdarag.api.deps import WorkspaceDep
from lambdarag.api.schemas import QueryRequest, QueryResponse
from lambdarag.llm.base import LLMError
from lambdarag.query.answer import aquery, retrieve_context
from lambdarag.query.param import QueryResult
from lambdarag.workspace import Workspace

logger = logging.getLogger(__name__)
router = APIRouter(tags=["query"])
NDJSON_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


def _references(result: QueryResult, body: QueryRequest) -> list[dict[str, Any]] | None:
    if body.include_references is False:
        return None
    refs = [dict(r) for r in result.references]
    if body.include_chunk_content and result.retrieval is not None:
        for ref in refs:
            ref["content"] = [c["content"] for c in result.retrieval.chunks
                              if c.get("reference_id") == ref["reference_id"]]
    return refs


async def _answer(ws: Workspace, body: QueryRequest, stream: bool) -> QueryResult:
    """Run the query; LLM failures become the contract's 200 placeholder, never a 500."""
    try:
        return await aquery(ws, body.query, body.to_param(stream=stream))
    except LLMError as exc:
        logger.warning("query failed: %s", exc)
        return QueryResult(response=prompts.NO_CONTEXT_PLACEHOLDER, llm_generated=False)


@router.post("/query", response_model=QueryResponse, summary="Answer a question (JSON)")
async def query(body: QueryRequest, ws: WorkspaceDep) -> QueryResponse:
    started = time.perf_counter()
    result = await _answer(ws, body, stream=False)
    return QueryResponse(
        response=result.response or prompts.NO_CONTEXT_PLACEHOLDER,
        references=_references(result, body),
        response_time=round(time.perf_counter() - started, 4),
        llm_generated=result.llm_generated and bool(result.response),
    )


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


@router.post("/query/stream", summary="Answer a question (NDJSON stream)")
async def query_stream(body: QueryRequest, ws: WorkspaceDep) -> StreamingResponse:
    """References first, then ``{"response": delta}`` lines (contract §5.3)."""
    started = time.perf_counter()
    progress = bool(body.include_progress)

    async def lines() -> AsyncIterator[str]:
        if progress:
            yield _line({"progress": "retrieving_entities"})
        result = await _answer(ws, body, stream=body.stream is not False)
        refs = _references(result, body)
        if result.stream is None:
            single: dict[str, Any] = {"response": result.response or "",
                                      "llm_generated": result.llm_generated}
            if refs is not None:
                single["references"] = refs
            yield _line(single)
        else:
            if progress:
                yield _line({"progress": "generating_response"})
            if refs is not None:
                yield _line({"references": refs})
            try:
                async for delta in result.stream:
                    yield _line({"response": delta})
            except LLMError as exc:
                yield _line({"error": str(exc)})
        if progress:
            yield _line({"response_time": round(time.perf_counter() - started, 4)})

    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=NDJSON_HEADERS)


def _failure(message: str, **metadata: Any) -> dict[str, Any]:
    return {"status": "failure", "message": message, "data": {}, "metadata": metadata}


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = " -> ".join(str(p) for p in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "Validation error: " + "; ".join(parts)


ENTITY_FIELDS = ("entity_name", "entity_type", "description", "source_id", "file_path", "created_at")
RELATION_FIELDS = ("src_id", "tgt_id", "description", "keywords", "weight", "source_id", "file_path",
                   "created_at")


@router.post(
    "/query/data",
    summary="Retrieval only: entities, relations, chunks and references",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/QueryRequest"}}}}},
)
async def query_data(request: Request, ws: WorkspaceDep) -> JSONResponse:
    """What the answer would be built from, without calling the LLM for an answer.

    Validation errors are 400 in this route's own failure shape (LightRAG compatible).
    """
    try:
        body = QueryRequest.model_validate(json.loads(await request.body() or b"null"))
    except json.JSONDecodeError:
        return JSONResponse(_failure("Validation error: body: invalid JSON"), status_code=400)
    except ValidationError as exc:
        return JSONResponse(_failure(_validation_message(exc)), status_code=400)
    param = body.to_param(stream=False)
    metadata: dict[str, Any] = {"query_mode": param.mode, "keywords": {"high_level": [], "low_level": []}}
    if param.mode == "bypass":
        data = {"entities": [], "relationships": [], "chunks": [], "references": []}
        return JSONResponse({"status": "success", "message": "Query processed successfully",
                             "data": data, "metadata": {**metadata, "processing_info": {}}})
    try:
        found = await retrieve_context(ws, body.query, param)
    except LLMError as exc:
        logger.warning("query/data failed: %s", exc)
        return JSONResponse(_failure(str(exc), failure_reason="llm_error", mode=param.mode))
    if found is None:
        message = "No relevant document chunks found." if param.mode == "naive" else "Query returned no results"
        return JSONResponse(_failure(message, failure_reason="no_results", mode=param.mode))
    data = {
        "entities": [{k: e.get(k) for k in ENTITY_FIELDS} for e in found.entities],
        "relationships": [{k: r.get(k) for k in RELATION_FIELDS} for r in found.relations],
        "chunks": [{k: c.get(k) for k in ("reference_id", "content", "file_path", "chunk_id")}
                   for c in found.chunks],
        "references": found.references,
    }
    metadata["keywords"] = {"high_level": found.high_level_keywords, "low_level": found.low_level_keywords}
    metadata["processing_info"] = found.processing_info
    return JSONResponse({"status": "success", "message": "Query processed successfully",
                         "data": data, "metadata": metadata})
