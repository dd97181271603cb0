"""``/query``, ``/query/stream`` and ``/query/data``: answers and retrieval from the knowledge base."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from lambdarag.api import errors
from lambdarag.api.deps import WorkspaceDep
from lambdarag.api.schemas import (
    QueryDataResponse,
    QueryRequest,
    QueryResponse,
    example_response,
    examples_response,
    validation_example,
)
from lambdarag.llm import prompts
from lambdarag.llm.base import LLMError
from lambdarag.query.answer import aquery, retrieve_context
from lambdarag.query.param import QueryResult
from lambdarag.query.retrieve import chunk_meta
from lambdarag.storage.base import StorageError
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)
router = APIRouter(tags=["query"])
NDJSON_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}


class NDJSONResponse(StreamingResponse):
    """A stream of JSON lines, sent and documented as ``application/x-ndjson``."""

    media_type = "application/x-ndjson"


# ----------------------------------------------------------------- OpenAPI examples

REFERENCE = {"reference_id": "1", "file_path": "report.pdf", "pages": [2, 3]}
CHUNK_ID = "doc-6f1ed002ab5595859014ebf0951522d9-chunk-000"
EMPTY_QUERY = validation_example(
    ["body", "query"], "Value error, Query must not be empty.", "value_error"
)
ANSWER = {
    "response": "Alice Smith founded Acme Corp in Berlin [1].\n\n### References\n\n- [1] report.pdf",
    "references": [REFERENCE],
    "response_time": 2.4817,
    "llm_generated": True,
}
PROVIDER_DOWN = ("Provider error: LLM host http://localhost:11434 (LLM_BINDING_HOST) is "
                 "unreachable: connection refused (3 attempts); check that the server is running")
PROVIDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    502: example_response("The LLM, embedding or rerank provider answered with an error.",
                          {"detail": "Provider error: LLM host https://api.openai.com/v1 "
                                     "(LLM_BINDING_HOST) rejected the API key "
                                     "(LLM_BINDING_API_KEY): HTTP 401: invalid key"}),
    503: example_response("A provider is unreachable (with Retry-After), or storage is "
                          "unavailable.", {"detail": PROVIDER_DOWN}),
    504: example_response("A provider did not answer within its timeout.",
                          {"detail": "Provider error: Embedding host http://localhost:11434 "
                                     "(EMBEDDING_BINDING_HOST) did not answer within 30 s "
                                     "(ReadTimeout); check the server or raise "
                                     "EMBEDDING_TIMEOUT"}),
}
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {200: examples_response(
    "The answer and the files it cites. Nothing relevant found is also 200, with "
    "llm_generated false; a provider's failure is 502, 503 or 504, never a 200.",
    {
        "An answer": ANSWER,
        "Nothing relevant found": {"response": prompts.FAIL_RESPONSE, "references": [],
                                   "response_time": 0.3121, "llm_generated": False},
    },
), **PROVIDER_RESPONSES}
STREAM_EXAMPLE = "".join(json.dumps(line) + "\n" for line in (
    {"references": [REFERENCE]},
    {"response": "Alice Smith founded "},
    {"response": "Acme Corp in Berlin [1]."},
))
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {200: example_response(
    "One JSON object per line: the references first (unless include_references is false), "
    'then one {"response": delta} line per piece of the answer. A failure after the stream '
    'started is an {"error": message, "status_code": 503} line: the error, and the status, '
    "the request would have answered unstreamed. A non-streamed result (stream false, a "
    "cached answer, only_need_context/prompt, nothing found) is a single line with response, "
    "llm_generated and references. include_progress adds progress lines first and a "
    "response_time line last.",
    STREAM_EXAMPLE,
    media_type="application/x-ndjson",
)}
DATA_SUCCESS = {
    "status": "success",
    "message": "Query processed successfully",
    "data": {
        "entities": [{"entity_name": "Acme Corp", "entity_type": "organization",
                      "description": "Acme Corp builds weather satellites.",
                      "source_id": CHUNK_ID, "file_path": "report.pdf",
                      "created_at": 1767225600}],
        "relationships": [{"src_id": "Acme Corp", "tgt_id": "Alice Smith",
                           "description": "Alice Smith founded Acme Corp.",
                           "keywords": "founder", "weight": 1.0, "source_id": CHUNK_ID,
                           "file_path": "report.pdf", "created_at": 1767225600}],
        "chunks": [{"reference_id": "1", "content": "Alice Smith founded Acme Corp in Berlin.",
                    "file_path": "report.pdf", "chunk_id": CHUNK_ID, "pages": [2, 3]}],
        "references": [REFERENCE],
    },
    "metadata": {
        "query_mode": "mix",
        "keywords": {"high_level": ["company founding"], "low_level": ["Acme Corp", "Alice Smith"]},
        "processing_info": {"total_entities_found": 1, "total_relations_found": 1,
                            "entities_after_truncation": 1, "relations_after_truncation": 1,
                            "merged_chunks_count": 1, "final_chunks_count": 1},
    },
}
DATA_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": QueryDataResponse, **examples_response(
        "What an answer would be built from. Chunks and references of PDF, PPTX and XLSX "
        "files also carry pages, slides or sheets. Nothing found is a 200 failure.",
        {
            "Retrieved data": DATA_SUCCESS,
            "Nothing found": {"status": "failure", "message": "Query returned no results",
                              "data": {}, "metadata": {"failure_reason": "no_results",
                                                       "mode": "mix"}},
        },
    )},
    400: {"model": QueryDataResponse, **example_response(
        "The body is invalid: the message names each field and what to fix.",
        {"status": "failure", "data": {}, "metadata": {},
         "message": "Validation error: body -> top_k: Input should be greater than or equal to 1"},
    )},
    **PROVIDER_RESPONSES,
}
DATA_REQUEST = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/QueryRequest"},
    "examples": {
        "Knowledge graph and chunks": {"value": {"query": "Who founded Acme Corp?", "mode": "mix"}},
        "Chunks only": {"value": {"query": "Which pages mention the Helios probe?",
                                  "mode": "naive", "chunk_top_k": 5}},
    },
}}}}


# --------------------------------------------------------------------------- routes


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
    """Run the query. A provider's failure propagates: the app answers it with 502, 503 or
    504 naming the provider (``api/errors.py``), never a "no context" 200."""
    return await aquery(ws, body.query, body.to_param(stream=stream))


@router.post(
    "/query", response_model=QueryResponse, summary="Answer a question (JSON)",
    responses=QUERY_RESPONSES, openapi_extra=EMPTY_QUERY,
)
async def query(body: QueryRequest, ws: WorkspaceDep) -> QueryResponse:
    """Retrieve from the knowledge graph and the chunks (per ``mode``), then ask the LLM.

    ``stream`` is ignored here; use ``/query/stream``. ``include_chunk_content`` adds the
    cited chunks' texts to each reference. An invalid body is 422.
    """
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


def _error_line(exc: StorageError | LLMError) -> str:
    """A stream's last line for a failure: the error the same request would get unstreamed,
    with the status it would have had."""
    error = errors.storage_error(exc) if isinstance(exc, StorageError) else errors.provider_error(exc)
    return _line({"error": error.detail, "status_code": error.status_code})


@router.post(
    "/query/stream", response_class=NDJSONResponse, summary="Answer a question (NDJSON stream)",
    responses=STREAM_RESPONSES, openapi_extra=EMPTY_QUERY,
)
async def query_stream(body: QueryRequest, ws: WorkspaceDep) -> NDJSONResponse:
    """The answer as newline-delimited JSON, references first.

    ``stream`` defaults to true here. An invalid body is 422, before the stream starts.
    """
    started = time.perf_counter()
    progress = bool(body.include_progress)

    async def lines() -> AsyncIterator[str]:
        if progress:
            yield _line({"progress": "retrieving_entities"})
        try:
            result = await _answer(ws, body, stream=body.stream is not False)
        except (StorageError, LLMError) as exc:  # the 200 is sent: the failure is the last line
            logger.warning("query stream: %s", exc)
            yield _error_line(exc)
            return
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
                logger.warning("query stream: %s", exc)
                yield _error_line(exc)
        if progress:
            yield _line({"response_time": round(time.perf_counter() - started, 4)})

    return NDJSONResponse(lines(), headers=NDJSON_HEADERS)


def _failure(message: str, **metadata: Any) -> dict[str, Any]:
    return {"status": "failure", "message": message, "data": {}, "metadata": metadata}


def _validation_message(exc: ValidationError) -> str:
    """FastAPI's wording: each error as ``body -> <field path>: <msg>``, joined by "; "."""
    parts = []
    for error in exc.errors():
        where = " -> ".join(str(p) for p in ("body", *error.get("loc", ())))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "Validation error: " + "; ".join(parts)


async def _parse_body(request: Request) -> QueryRequest | JSONResponse:
    """The request body as a QueryRequest, or the 400 failure telling what to fix."""
    raw = await request.body()
    if not raw.strip():
        return JSONResponse(_failure("Validation error: body: Field required"), status_code=400)
    try:
        return QueryRequest.model_validate(json.loads(raw))
    except ValidationError as exc:
        message = _validation_message(exc)
    except json.JSONDecodeError as exc:
        message = f"Validation error: body -> {exc.pos}: JSON decode error"
    except (ValueError, RecursionError):  # not UTF-8/16/32 text, huge numbers, deep nesting
        message = "Validation error: body: JSON decode error"
    return JSONResponse(_failure(message), status_code=400)


ENTITY_FIELDS = ("entity_name", "entity_type", "description", "source_id", "file_path", "created_at")
RELATION_FIELDS = ("src_id", "tgt_id", "description", "keywords", "weight", "source_id", "file_path",
                   "created_at")
CHUNK_FIELDS = ("reference_id", "content", "file_path", "chunk_id")


SCORE_FIELDS = ("rank", "score", "rerank_score")  # with include_scores (LambdaRAG addition)


def _chunk_row(chunk: dict[str, Any]) -> dict[str, Any]:
    """A chunk as /query/data shows it, with its pages, slides or sheets when it has them."""
    return {**{k: chunk.get(k) for k in CHUNK_FIELDS}, **chunk_meta(chunk)}


def _row(item: dict[str, Any], fields: tuple[str, ...], scores: bool) -> dict[str, Any]:
    row = {k: item.get(k) for k in fields}
    if scores:
        row.update({k: item[k] for k in SCORE_FIELDS if k in item})
    return row


@router.post(
    "/query/data",
    summary="Retrieval only: entities, relations, chunks and references",
    responses=DATA_RESPONSES,
    openapi_extra=DATA_REQUEST,
)
async def query_data(request: Request, ws: WorkspaceDep) -> JSONResponse:
    """What the answer would be built from, without calling the LLM for an answer.

    References are always included. Validation errors are 400 in this route's own failure
    shape (LightRAG compatible), not 422.
    """
    body = await _parse_body(request)
    if isinstance(body, JSONResponse):
        return body
    param = body.to_param(stream=False)
    metadata: dict[str, Any] = {"query_mode": param.mode, "keywords": {"high_level": [], "low_level": []}}
    if param.mode == "bypass":
        data = {"entities": [], "relationships": [], "chunks": [], "references": []}
        return JSONResponse({"status": "success", "message": "Query processed successfully",
                             "data": data, "metadata": {**metadata, "processing_info": {}}})
    found = await retrieve_context(ws, body.query, param)  # provider failures: 502/503/504
    if found is None:
        message = "No relevant document chunks found." if param.mode == "naive" else "Query returned no results"
        return JSONResponse(_failure(message, failure_reason="no_results", mode=param.mode))
    scores = bool(body.include_scores)
    data = {
        "entities": [_row(e, ENTITY_FIELDS, scores) for e in found.entities],
        "relationships": [_row(r, RELATION_FIELDS, scores) for r in found.relations],
        "chunks": [{**_chunk_row(c), **_row(c, (), scores)} for c in found.chunks],
        "references": found.references,
    }
    metadata["keywords"] = {"high_level": found.high_level_keywords, "low_level": found.low_level_keywords}
    metadata["processing_info"] = found.processing_info
    return JSONResponse({"status": "success", "message": "Query processed successfully",
                         "data": data, "metadata": metadata})
