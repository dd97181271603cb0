"""The indexing pipeline as plain steps on JSON-able payloads.

prepare -> extract (one call per chunk batch) -> merge entities (per shard)
-> merge relations (per shard) -> finalize; any failure -> fail.

Every step is idempotent and carries ids only, so Step Functions can retry any of
them and the LocalRunner can resume a document that was killed halfway. The same
functions run in-process (LocalRunner) and in the pipeline Lambdas.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lambdarag.errors import LambdaRAGError
from lambdarag.indexing import parse
from lambdarag.indexing.chunking import CHUNK_META_KEYS
from lambdarag.indexing.extract import extract_chunk
from lambdarag.indexing.merge import merge_entities, merge_relations
from lambdarag.indexing.strategies import chunk_document
from lambdarag.llm.cache import LLMUsage, counting_usage
from lambdarag.storage.base import DocStatusRecord
from lambdarag.utils import chunk_id_for, content_summary, mdhash, now_iso
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)

Payload = dict[str, Any]
SHARD_CHUNKS = 8
MAX_SHARDS = 16


class PipelineError(LambdaRAGError):
    """A document cannot be indexed; the message is stored as its error_msg."""


class PipelineCancelled(PipelineError):
    """The user asked the pipeline to stop (``/documents/cancel_pipeline``)."""


async def _status(ws: Workspace, doc_id: str) -> DocStatusRecord:
    record = await ws.stores.doc_status.get(doc_id)
    if record is None:
        raise PipelineError(f"document {doc_id} is not in doc_status (deleted meanwhile?)")
    return record


async def _set_status(ws: Workspace, record: DocStatusRecord, status: str, **changes: Any) -> None:
    metadata = {**record.get("metadata", {}), **changes.pop("metadata", {})}
    updated = DocStatusRecord(
        **{**record, **changes, "status": status, "updated_at": now_iso(), "metadata": metadata}
    )
    await ws.stores.doc_status.upsert([updated])


async def _guard(ws: Workspace, doc_id: str, undo: Callable[[], Awaitable[None]]) -> None:
    """Undo this step's writes and stop if the document was deleted meanwhile.

    Called after a step's writes: a write made before the delete's tombstone is seen
    and removed by the delete itself; one made after it is removed here.
    """
    if await ws.stores.doc_tombstones.get_by_id(doc_id) is not None:
        await undo()
        raise PipelineCancelled("Document was deleted during indexing")


def _check_cancelled(ws: Workspace) -> None:
    if ws.pipeline.cancellation_requested:
        raise PipelineCancelled("User cancelled")


# --------------------------------------------------------------------------- steps


async def prepare(ws: Workspace, payload: Payload) -> Payload:
    """Parse, mark PROCESSING, chunk, store chunks and chunk vectors; plan the fan-out."""
    doc_id = payload["doc_id"]
    record = await _status(ws, doc_id)
    doc = await ws.stores.full_docs.get_by_id(doc_id) or {}
    text = doc.get("content") or ""
    sections = parse.sections_from_index(text, doc.get("sections"))
    if not text.strip() and doc.get("source_file"):
        sections = await parse.load_document_sections(doc["source_file"], ws.inputs.read)
        text = parse.join_sections(sections)
        index = {"sections": parse.section_index(sections)} if parse.is_structured(sections) else {}
        await ws.stores.full_docs.upsert(
            {doc_id: {**doc, "content": text, "parse_format": "raw", **index}}
        )
    if not text.strip():
        raise PipelineError("Document has no text content")
    await _set_status(
        ws, record, "processing", content_summary=content_summary(text),
        content_length=len(text), metadata={"process_start_time": int(time.time())},
    )
    options = ws.indexing
    chunked = await chunk_document(
        sections, doc.get("process_options"), doc.get("chunk_options"), options.chunker,
        embed=ws.embedder.embed)
    chunks = chunked.chunks
    file_path = record.get("file_path", "unknown_source")
    ids = [chunk_id_for(doc_id, c["chunk_order_index"]) for c in chunks]

    async def undo() -> None:
        await ws.stores.text_chunks.delete(ids)
        await ws.stores.chunks_vdb.delete(ids)
        await ws.stores.doc_status.delete([doc_id])

    await _store_chunks(ws, doc_id, file_path, ids, chunks)
    # Guard before re-reading the status: a delete that ran while the chunks were being
    # embedded has removed the record, and the vectors written after it must go too.
    await _guard(ws, doc_id, undo)
    record = await _status(ws, doc_id)
    await _set_status(ws, record, "processing", chunks_list=ids, chunks_count=len(ids),
                      metadata={"chunk_method": chunked.method, "chunk_opts": chunked.options})
    await _guard(ws, doc_id, undo)
    ws.pipeline.log(f"Chunked {file_path}: {len(ids)} chunks ({chunked.method}: "
                    f"{chunked.options})")
    return _plan(payload, len(ids), options.extract_batch_size)


async def _store_chunks(
    ws: Workspace, doc_id: str, file_path: str, ids: list[str], chunks: list[Any]
) -> None:
    """Store chunks (with any pages/slides/sheets) in text_chunks and embed new ones."""
    stores = ws.stores
    previous = dict(zip(ids, await stores.text_chunks.get_by_ids(ids), strict=True))
    records = {
        cid: {**chunk, "full_doc_id": doc_id, "file_path": file_path,
              "llm_cache_list": (previous[cid] or {}).get("llm_cache_list", [])}
        for cid, chunk in zip(ids, chunks, strict=True)
    }
    await stores.text_chunks.upsert(records)
    known = await stores.chunks_vdb.get_by_ids(ids)
    todo = [cid for cid, hit in zip(ids, known, strict=True)
            if hit is None or hit.get("content") != records[cid]["content"]]
    if todo:
        vectors = await ws.embedder.embed([records[cid]["content"] for cid in todo])
        await stores.chunks_vdb.upsert(
            [{"id": cid, "full_doc_id": doc_id, "file_path": file_path,
              "content": records[cid]["content"],
              **{key: records[cid][key] for key in CHUNK_META_KEYS if key in records[cid]}}
             for cid in todo],
            vectors,
        )


def _plan(payload: Payload, chunk_count: int, size: int) -> Payload:
    base = {"workspace": payload.get("workspace", ""), "doc_id": payload["doc_id"]}
    shards = max(1, min(MAX_SHARDS, -(-chunk_count // SHARD_CHUNKS)))
    return {
        **base,
        "chunk_count": chunk_count,
        "extract_batches": [
            {**base, "start": s, "end": min(s + size, chunk_count)}
            for s in range(0, chunk_count, size)
        ],
        "merge_entities": [{**base, "phase": "entities", "shard": i, "shards": shards}
                           for i in range(shards)],
        "merge_relations": [{**base, "phase": "relations", "shard": i, "shards": shards}
                            for i in range(shards)],
    }


async def extract(ws: Workspace, payload: Payload) -> Payload:
    """Extract entities/relations from chunks [start, end) and store them as fragments."""
    doc_id = payload["doc_id"]
    ids = [chunk_id_for(doc_id, i) for i in range(payload["start"], payload["end"])]
    chunks = await ws.stores.text_chunks.get_by_ids(ids)
    with counting_usage() as usage:
        results = await asyncio.gather(
            *(_extract_one(ws, cid, chunk) for cid, chunk in zip(ids, chunks, strict=True) if chunk)
        )
    await _record_usage(ws, doc_id, f"extract|{payload['start']}", usage)
    return {"chunks": len(results), "entities": sum(e for e, _ in results),
            "relations": sum(r for _, r in results)}


async def _record_usage(ws: Workspace, doc_id: str, step: str, usage: LLMUsage) -> None:
    """Add what one step spent to its entry; a run that only hit the cache records nothing.

    So a re-run of an indexed document (every answer cached) changes nothing, and a
    re-run that did call the LLM again (cache off, or new prompts) adds its real cost.
    """
    if not (usage.calls or usage.prompt_tokens or usage.completion_tokens):
        return
    key = f"{doc_id}|{step}"
    total = LLMUsage()
    total.add((await ws.stores.doc_llm_usage.get_by_id(key)) or {})
    total.add(usage.as_dict())
    await ws.stores.doc_llm_usage.upsert({key: total.as_dict()})
    await _guard(ws, doc_id, lambda: ws.stores.doc_llm_usage.delete([key]))


async def document_usage(ws: Workspace, doc_id: str) -> dict[str, int]:
    """The LLM calls, cache hits and tokens spent on one document so far (all steps)."""
    keys = await ws.stores.doc_llm_usage.keys(f"{doc_id}|")
    total = LLMUsage()
    for entry in await ws.stores.doc_llm_usage.get_by_ids(keys):
        total.add(entry or {})
    return total.as_dict()


async def _extract_one(ws: Workspace, chunk_id: str, chunk: dict[str, Any]) -> tuple[int, int]:
    _check_cancelled(ws)
    result = await extract_chunk(
        chunk_id, chunk["content"], chunk.get("file_path", ""), llm=ws.llm,
        options=ws.indexing.extraction,
    )
    await ws.stores.fragments.put_chunk_fragments(chunk_id, result.entities, result.relations)
    await _guard(ws, chunk["full_doc_id"], lambda: ws.stores.fragments.delete_chunks([chunk_id]))
    if result.cache_keys != chunk.get("llm_cache_list"):
        await ws.stores.text_chunks.upsert({chunk_id: {**chunk, "llm_cache_list": result.cache_keys}})
    ws.pipeline.log(
        f"Chunk {chunk_id} extracted {len(result.entities)} Ent + {len(result.relations)} Rel"
    )
    return len(result.entities), len(result.relations)


def _in_shard(key: str, shard: int, shards: int) -> bool:
    return int(mdhash(key)[:8], 16) % shards == shard


async def merge(ws: Workspace, payload: Payload) -> Payload:
    """Merge this shard's entities (phase ``entities``) or relations (``relations``)."""
    _check_cancelled(ws)
    record = await _status(ws, payload["doc_id"])
    names, pairs = await ws.stores.fragments.keys_for_chunks(record.get("chunks_list") or [])
    shard, shards = payload.get("shard", 0), payload.get("shards", 1)
    step = ws.indexing.merge_batch_size
    ctx = ws.merge_context()
    merged = summaries = 0
    with counting_usage() as usage:
        if payload["phase"] == "entities":
            keys = sorted(n for n in names if _in_shard(n, shard, shards))
            for i in range(0, len(keys), step):
                report = await merge_entities(keys[i : i + step], ctx)
                merged, summaries = merged + report.upserted, summaries + report.llm_summaries
        else:
            todo = sorted(p for p in pairs if _in_shard("\x00".join(p), shard, shards))
            for i in range(0, len(todo), step):
                report = await merge_relations(todo[i : i + step], ctx)
                merged, summaries = merged + report.upserted, summaries + report.llm_summaries
    await _record_usage(ws, payload["doc_id"], f"merge|{payload['phase']}|{shard}", usage)
    return {"merged": merged, "llm_summaries": summaries}


MERGE_BATCHES_AT_ONCE = 8  # merge batches of a round in flight (their LLM calls share MAX_ASYNC)


async def merge_documents(ws: Workspace, doc_ids: list[str]) -> Payload:
    """Merge the entities, then the relations, of several extracted documents in one round.

    Each key the documents touch is merged once, and summarised at most once, however many
    of them name it: a merge reads every fragment of its key, so one merge serves them all.
    The documents' merged LLM usage is shared out among them (their llm_usage sums to it).
    The Step Functions path merges per document (:func:`merge`); both end in the same graph.
    """
    _check_cancelled(ws)
    names: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for record in await ws.stores.doc_status.get_many(doc_ids):
        if record is not None:  # a document deleted meanwhile has nothing left to merge
            found_names, found_pairs = await ws.stores.fragments.keys_for_chunks(
                record.get("chunks_list") or [])
            names |= found_names
            pairs |= found_pairs
    ctx = ws.merge_context()
    step = ws.indexing.merge_batch_size
    limit = asyncio.Semaphore(MERGE_BATCHES_AT_ONCE)
    merged = summaries = 0

    async def run(merge_keys: Callable[..., Awaitable[Any]], keys: list[Any]) -> None:
        nonlocal merged, summaries
        async with limit:
            _check_cancelled(ws)
            report = await merge_keys(keys, ctx)
            merged, summaries = merged + report.upserted, summaries + report.llm_summaries

    with counting_usage() as usage:
        ordered_names, ordered_pairs = sorted(names), sorted(pairs)
        await asyncio.gather(*(run(merge_entities, ordered_names[i : i + step])
                               for i in range(0, len(ordered_names), step)))
        await asyncio.gather(*(run(merge_relations, ordered_pairs[i : i + step])
                               for i in range(0, len(ordered_pairs), step)))
    for doc_id, share in zip(doc_ids, usage.shares(len(doc_ids)), strict=True):
        await _record_usage(ws, doc_id, "merge|round", share)
    return {"documents": len(doc_ids), "merged": merged, "llm_summaries": summaries}


async def finalize(ws: Workspace, payload: Payload) -> Payload:
    """Record the document's entity/relation sets and mark it PROCESSED."""
    doc_id = payload["doc_id"]
    record = await _status(ws, doc_id)
    chunk_ids = record.get("chunks_list") or []
    names, pairs = await ws.stores.fragments.keys_for_chunks(chunk_ids)
    await ws.stores.full_entities.upsert(
        {doc_id: {"entity_names": sorted(names), "count": len(names)}}
    )
    await ws.stores.full_relations.upsert(
        {doc_id: {"relation_pairs": [list(p) for p in sorted(pairs)], "count": len(pairs)}}
    )
    await _set_status(
        ws, record, "processed", chunks_count=len(chunk_ids), error_msg=None,
        metadata={"process_end_time": int(time.time()),
                  "llm_usage": await document_usage(ws, doc_id)},
    )

    async def undo() -> None:
        for kv in (ws.stores.full_entities, ws.stores.full_relations):
            await kv.delete([doc_id])
        await ws.stores.doc_status.delete([doc_id])

    await _guard(ws, doc_id, undo)
    ws.pipeline.log(f"Completed processing file: {record.get('file_path')}")
    return {"doc_id": doc_id, "status": "processed", "chunks_count": len(chunk_ids)}


async def fail(ws: Workspace, payload: Payload) -> Payload:
    """Mark the document FAILED with the reason; its stored data stays for a retry."""
    doc_id = payload["doc_id"]
    error = payload.get("error")
    if isinstance(error, dict):  # a Step Functions Catch result
        error = error.get("Cause") or error.get("Error") or str(error)
    message = str(error or "unknown error")[:2000]
    record = await ws.stores.doc_status.get(doc_id)
    if record is not None and await ws.stores.doc_tombstones.get_by_id(doc_id) is None:
        await _set_status(ws, record, "failed", error_msg=message,
                          metadata={"process_end_time": int(time.time()),
                                    "llm_usage": await document_usage(ws, doc_id)})
        if await ws.stores.doc_tombstones.get_by_id(doc_id) is not None:
            await ws.stores.doc_status.delete([doc_id])
    ws.pipeline.log(f"Failed {doc_id}: {message}")
    return {"doc_id": doc_id, "status": "failed", "error_msg": message}


STEPS = {"prepare": prepare, "extract": extract, "merge": merge, "finalize": finalize, "fail": fail}
