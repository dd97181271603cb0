"""Document intake and removal: enqueue with duplicate detection, delete with rebuild."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from lambdarag.indexing.merge import merge_entities, merge_relations
from lambdarag.storage.base import DocStatusRecord
from lambdarag.utils import (
    UNKNOWN_SOURCE,
    canonical_source,
    content_hash,
    content_summary,
    doc_id_for,
    mdhash,
    now_iso,
)
from lambdarag.workspace import Workspace

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewDocument:
    """A document to enqueue: its text, or a stored source file to parse later."""

    file_path: str
    text: str = ""
    source_file: str | None = None


@dataclass
class EnqueueResult:
    doc_ids: list[str] = field(default_factory=list)
    duplicates: list[DocStatusRecord] = field(default_factory=list)


def _pending_record(doc_id: str, doc: NewDocument, track_id: str, chash: str) -> DocStatusRecord:
    stamp = now_iso()
    return DocStatusRecord(
        id=doc_id, status="pending", content_summary=content_summary(doc.text),
        content_length=len(doc.text), file_path=doc.file_path, created_at=stamp,
        updated_at=stamp, track_id=track_id, chunks_count=None, chunks_list=[],
        error_msg=None, metadata={}, content_hash=chash,
    )


def _duplicate_record(
    original: DocStatusRecord, doc: NewDocument, track_id: str, index: int, kind: str
) -> DocStatusRecord:
    stamp = now_iso()
    if kind == "filename":
        error = f"File name already exists. Original doc_id: {original['id']}, Status: {original['status']}"
    else:
        error = (f"Identical content already exists under another filename. "
                 f"Original doc_id: {original['id']}, Status: {original['status']}")
    return DocStatusRecord(
        id=mdhash(f"{original['id']}-{track_id}-{index}", "dup-"), status="failed",
        content_summary=f"[DUPLICATE:{kind}] Original document: {original['id']}",
        content_length=len(doc.text), file_path=doc.file_path, created_at=stamp,
        updated_at=stamp, track_id=track_id, chunks_count=0, chunks_list=[], error_msg=error,
        metadata={"is_duplicate": True, "duplicate_kind": kind,
                  "original_doc_id": original["id"],
                  "original_track_id": original.get("track_id")},
    )


async def enqueue(ws: Workspace, docs: Sequence[NewDocument], track_id: str) -> EnqueueResult:
    """Store new documents as PENDING; duplicates become FAILED ``dup-`` records."""
    result = EnqueueResult()
    seen: dict[str, DocStatusRecord] = {}
    stores = ws.stores
    for index, doc in enumerate(docs):
        doc = NewDocument(canonical_source(doc.file_path), doc.text, doc.source_file)
        doc_id = doc_id_for(doc.text, doc.file_path) if doc.text else mdhash(doc.file_path, "doc-")
        chash = content_hash(doc.text) if doc.text else ""
        original = seen.get(doc_id) or await stores.doc_status.get(doc_id)
        kind = "filename" if doc.file_path != UNKNOWN_SOURCE else "content"
        if original is None and chash:
            same = seen.get(chash) or next(iter(await stores.doc_status.by_content_hash(chash)), None)
            original, kind = same, "content_hash"
        if original is not None:
            result.duplicates.append(_duplicate_record(original, doc, track_id, index, kind))
            continue
        record = _pending_record(doc_id, doc, track_id, chash)
        await stores.full_docs.upsert({doc_id: {
            "content": doc.text, "file_path": doc.file_path, "content_hash": chash,
            "parse_format": "raw" if doc.text else "pending_parse",
            **({"source_file": doc.source_file} if doc.source_file else {}),
        }})
        await stores.doc_status.upsert([record])
        await stores.doc_tombstones.delete([doc_id])
        seen[doc_id] = record
        if chash:
            seen[chash] = record
        result.doc_ids.append(doc_id)
    if result.duplicates:
        await stores.doc_status.upsert(result.duplicates)
    return result


async def delete_document(ws: Workspace, doc_id: str, *, delete_llm_cache: bool = False) -> str:
    """Remove a document and rebuild only the entities/relations its chunks touched.

    Returns a one-line message. Safe while indexing runs: merges take per-key locks
    and recompute from the fragments that remain.
    """
    stores = ws.stores
    record = await stores.doc_status.get(doc_id)
    if record is None:
        return f"Document {doc_id} not found"
    # The tombstone goes first: a pipeline step still running for this document
    # checks it after each write and undoes what it wrote (pipeline._guard).
    await stores.doc_tombstones.upsert({doc_id: {"deleted_at": now_iso()}})
    chunk_ids = list(record.get("chunks_list") or [])
    chunk_ids += [k for k in await stores.text_chunks.keys(f"{doc_id}-chunk-") if k not in chunk_ids]
    cache_keys: list[str] = []
    if delete_llm_cache:
        for chunk in await stores.text_chunks.get_by_ids(chunk_ids):
            cache_keys += (chunk or {}).get("llm_cache_list", [])
    names, pairs = await stores.fragments.keys_for_chunks(chunk_ids)
    await stores.fragments.delete_chunks(chunk_ids)
    await stores.chunks_vdb.delete(chunk_ids)
    await stores.text_chunks.delete(chunk_ids)
    ctx = ws.merge_context()
    step = ws.indexing.merge_batch_size
    ordered_names, ordered_pairs = sorted(names), sorted(pairs)
    for i in range(0, len(ordered_names), step):
        await merge_entities(ordered_names[i : i + step], ctx)
    for i in range(0, len(ordered_pairs), step):
        await merge_relations(ordered_pairs[i : i + step], ctx)
    for kv in (stores.full_docs, stores.full_entities, stores.full_relations):
        await kv.delete([doc_id])
    await stores.doc_status.delete([doc_id])
    if cache_keys:
        await stores.llm_response_cache.delete(cache_keys)
    message = (f"Deleted document {doc_id} ({record.get('file_path')}): {len(chunk_ids)} chunks, "
               f"{len(names)} entities and {len(pairs)} relations rebuilt or removed")
    ws.pipeline.log(message)
    return message


RETRYABLE = ("failed", "pending", "parsing", "analyzing", "processing")


async def retry_documents(ws: Workspace, statuses: Sequence[str] = RETRYABLE) -> list[str]:
    """Put failed (and interrupted) documents back to PENDING; duplicates stay failed.

    Returns the ids to hand to the runner; each keeps its original track_id.
    """
    ids = []
    for record in await ws.stores.doc_status.by_status(statuses):
        if (record.get("metadata") or {}).get("is_duplicate"):
            continue
        if record["status"] == "failed":
            await ws.stores.doc_status.upsert(
                [DocStatusRecord(**{**record, "status": "pending", "error_msg": None,
                                    "updated_at": now_iso()})]
            )
        ids.append(record["id"])
    return ids
