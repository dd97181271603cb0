"""Document intake and removal.

Intake stores files the way ``/documents/upload`` does and enqueues them with duplicate
detection; removal deletes documents with a rebuild, shown in ``pipeline_status``; and
source conflicts (several documents owning one canonical basename) are listed and repaired.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import AsyncIterable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambdarag.errors import LambdaRAGError
from lambdarag.indexing import strategies
from lambdarag.indexing.merge import merge_entities, merge_relations
from lambdarag.indexing.parse import (
    SNIFF_BYTES,
    SUPPORTED_EXTENSIONS,
    canonical_basename,
    is_supported,
    sniff,
)
from lambdarag.storage.base import DocStatusRecord
from lambdarag.utils import (
    UNKNOWN_SOURCE,
    content_hash,
    content_summary,
    doc_id_for,
    mdhash,
    now_iso,
)
from lambdarag.workspace.pipeline_status import StatusJob
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)

PIECE = 1024 * 1024  # uploads are streamed to disk in pieces of this size
LISTING_PAGE = 200  # doc_status rows read per call when grouping documents by source
SAMPLE_IDS = 10  # doc ids shown per source conflict
PARSED_DIR = "__parsed__"  # where a scan moves the files it handled, inside the input folder
_UNSAFE = re.compile(r"[/\\:]")
# A name's UTF-8 bytes. File systems allow 255; the partial file of an upload (".<name>.part")
# and a scan's renaming ("<stem>_001<ext>") add a few.
MAX_FILENAME_BYTES = 240
# Bidirectional formatting characters make a name display as something else
# ("invoice\u202etxt.exe" shows as "invoiceexe.txt").
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                           "\u2066\u2067\u2068\u2069")


class DocumentRequestError(LambdaRAGError, ValueError):
    """A document request that cannot be done as asked; the message says what to change."""

    http_status = 400


class InvalidSourceError(DocumentRequestError):
    """A file name or type that cannot be accepted."""


class SourceExistsError(DocumentRequestError):
    """The canonical basename is already stored or waiting in the input directory."""

    http_status = 409


class ReservedWorkspaceError(DocumentRequestError):
    """A workspace whose input folder would be a folder the default workspace uses."""


class FileTooLargeError(DocumentRequestError):
    """An upload over MAX_UPLOAD_SIZE."""

    http_status = 413


class UnreadableFileError(DocumentRequestError):
    """An upload whose content cannot be indexed: empty, or not of its file type."""


class UnknownConflictError(DocumentRequestError):
    """No source conflict under that key, or the primary is not one of its documents."""

    http_status = 404


class ConflictChangedError(DocumentRequestError):
    """The conflict's documents differ from what the caller expected (a stale dry run)."""

    http_status = 409


@dataclass(frozen=True)
class NewDocument:
    """A document to enqueue: its text, or a stored source file to parse later."""

    file_path: str
    text: str = ""
    source_file: str | None = None
    # the chunking strategy's letter and its frozen parameters (indexing/strategies.py);
    # empty: the server's fixed_token defaults when the document is chunked
    process_options: str = ""
    chunk_options: dict[str, Any] | None = None


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
        if doc.source_file and not doc.process_options:  # a scanned or dropped file's hint
            doc = replace(doc, **strategies.for_hint(doc.source_file, ws.indexing.chunker,
                                                     refuse_custom=False))
        doc = replace(doc, file_path=canonical_basename(doc.file_path))
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
            **({"process_options": doc.process_options} if doc.process_options else {}),
            **({"chunk_options": doc.chunk_options} if doc.chunk_options else {}),
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


# ------------------------------------------------------------------------ intake


def input_folder(input_dir: Path, workspace: str) -> Path:
    """INPUT_DIR, or INPUT_DIR/<workspace> for a named workspace.

    The workspace ``__parsed__`` has none: INPUT_DIR/__parsed__ holds the files the default
    workspace has parsed, which another workspace must neither scan nor delete.
    """
    if workspace == PARSED_DIR:
        raise ReservedWorkspaceError(
            f"Workspace '{workspace}' cannot use files: INPUT_DIR/{workspace} is where the "
            "default workspace keeps the files it parsed. Use another workspace name."
        )
    return input_dir / workspace if workspace else input_dir


def checked_filename(raw: str | None) -> str:
    """The canonical basename of an uploaded file, once its name and type are acceptable."""
    name = raw or ""
    if not name:
        raise InvalidSourceError("Filename cannot be empty")
    if (name != name.strip() or len(name.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES
            or any(unicodedata.category(c) in {"Cc", "Cs"} or c in _BIDI_CONTROLS for c in name)):
        raise InvalidSourceError("Invalid filename")
    if _UNSAFE.search(name) or name in {".", ".."}:
        raise InvalidSourceError("Unsafe filename detected")
    name = canonical_basename(name)
    if not is_supported(name):
        raise InvalidSourceError(
            f"Unsupported file type. Supported types: ({', '.join(SUPPORTED_EXTENSIONS)})"
        )
    return name


async def claim_sources(ws: Workspace, sources: Sequence[str], verb: str) -> list[DocStatusRecord]:
    """The FAILED documents holding ``sources``: a new upload or text of the name replaces
    them, which is how a failed document is retried with its file. A name held by a document
    in any other state is refused (checked at the API)."""
    failed: list[DocStatusRecord] = []
    for source in sources:
        if source == UNKNOWN_SOURCE:
            continue
        existing = await ws.stores.doc_status.by_file_path(source)
        kept = [r for r in existing if r["status"] != "failed"]
        if kept:
            raise SourceExistsError(
                f"Document storage already contains '{source}' (Status: {kept[0]['status']}). "
                f"Delete the existing record before {verb}."
            )
        failed += existing
    return failed


async def replace_failed(ws: Workspace, records: Sequence[DocStatusRecord]) -> None:
    """Delete the FAILED documents a new upload or text replaces (see :func:`claim_sources`).

    What they left (chunks, fragments) goes with them, and the entities they touched are
    rebuilt, so the new document starts clean.
    """
    for record in records:
        await delete_document(ws, record["id"])
        ws.pipeline.log(f"Retrying {record.get('file_path')}: the failed document "
                        f"{record['id']} is replaced by the new one")


async def store_file(
    ws: Workspace, folder: Path, raw_name: str | None, pieces: AsyncIterable[bytes], limit: int
) -> NewDocument:
    """Check a file as ``/documents/upload`` does and save it in ``folder`` for ``prepare``.

    ``limit`` is MAX_UPLOAD_SIZE in bytes (0 = none). A file known to be bad (empty,
    binary under a text extension, not of its type, over the limit) is refused before
    anything is stored. A FAILED document of the same name is replaced: uploading the file
    again retries it. The returned document carries the saved path as its
    ``source_file``; the pipeline's prepare step parses it, keeping pages, slides and sheets.
    """
    name = checked_filename(raw_name)
    chunking = strategies.for_hint(raw_name, ws.indexing.chunker, refuse_custom=True)
    folder = folder.resolve()
    target = (folder / name).resolve()
    if target.parent != folder:
        raise InvalidSourceError("Unsafe filename detected")
    failed = await claim_sources(ws, [name], "re-uploading")
    if not failed and await asyncio.to_thread(_folder_holds, folder, name):
        raise SourceExistsError(
            f"Input directory already contains a file with the same canonical basename ({name}). "
            "Remove that file from the input directory before re-uploading."
        )
    await _save(pieces, target, limit)
    await replace_failed(ws, failed)
    return NewDocument(name, source_file=str(target), **chunking)


def _folder_holds(folder: Path, name: str) -> bool:
    """True if a top-level file of ``folder`` has the canonical basename ``name``."""
    if not folder.is_dir():
        return False
    return any(p.is_file() and canonical_basename(p.name) == name for p in folder.iterdir())


async def _save(pieces: AsyncIterable[bytes], target: Path, limit: int) -> None:
    """Write ``pieces`` to ``target`` through a hidden partial file, enforcing ``limit``
    and refusing content that cannot be indexed (:func:`lambdarag.indexing.parse.sniff`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    size, head, blank = 0, b"", True
    try:
        with partial.open("wb") as out:
            async for piece in pieces:
                size += len(piece)
                if limit and size > limit:
                    raise FileTooLargeError(
                        f"File too large. Maximum size: {limit / 1048576:.1f}MB, "
                        f"uploaded: {size / 1048576:.1f}MB"
                    )
                if len(head) < SNIFF_BYTES:
                    head += piece[: SNIFF_BYTES - len(head)]
                    if len(head) == SNIFF_BYTES:  # enough to tell, before the rest arrives
                        _refuse(sniff(target.name, head))
                blank = blank and not piece.strip()
                await asyncio.to_thread(out.write, piece)
        _refuse(sniff(target.name, head, blank=blank))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _refuse(reason: str | None) -> None:
    if reason:
        raise UnreadableFileError(reason)


# ---------------------------------------------------------------------- removal


async def delete_document(ws: Workspace, doc_id: str, *, delete_llm_cache: bool = False) -> str:
    """Remove a document and rebuild only the entities/relations its chunks touched.

    Returns a one-line message. Safe while indexing runs: merges take per-key locks
    and recompute from the fragments that remain.
    """
    stores = ws.stores
    record = await stores.doc_status.get(doc_id)
    if record is None:
        ws.pipeline.log(f"Document {doc_id} not found")
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
    await stores.doc_llm_usage.delete(await stores.doc_llm_usage.keys(f"{doc_id}|"))
    await stores.doc_status.delete([doc_id])
    if cache_keys:
        await stores.llm_response_cache.delete(cache_keys)
    message = (f"Deleted document {doc_id} ({record.get('file_path')}): {len(chunk_ids)} chunks, "
               f"{len(names)} entities and {len(pairs)} relations rebuilt or removed")
    ws.pipeline.log(message)
    return message


async def delete_documents(
    ws: Workspace, doc_ids: Sequence[str], *, delete_llm_cache: bool = False,
    files_in: Path | None = None,
) -> int:
    """Delete documents one by one as the ``Deleting N Documents`` job; returns how many.

    ``files_in`` (the input folder) also removes each document's file. Stops between
    documents when the job is cancelled; a document that fails is logged and skipped.
    """
    job = StatusJob(ws.pipeline, f"Deleting {len(doc_ids)} Documents", len(doc_ids))
    job.claim()
    job.log(f"Deleting {len(doc_ids)} Documents")
    deleted, verb = 0, "finished"
    try:
        for doc_id in doc_ids:
            if job.cancelled:
                verb = "cancelled"
                break
            deleted += await _delete_one(ws, doc_id, delete_llm_cache, files_in)
            job.step()
    finally:
        job.finish(f"Deletion {verb}: {deleted} of {len(doc_ids)} documents deleted")
    return deleted


async def _delete_one(ws: Workspace, doc_id: str, delete_llm_cache: bool, files_in: Path | None) -> int:
    record = await ws.stores.doc_status.get(doc_id)
    source = (await ws.stores.full_docs.get_by_id(doc_id) or {}).get("source_file") or ""
    try:
        await delete_document(ws, doc_id, delete_llm_cache=delete_llm_cache)
    except Exception as exc:  # noqa: BLE001 - one document must not stop the others
        logger.exception("deleting %s failed", doc_id)
        ws.pipeline.log(f"Failed to delete {doc_id}: {exc.__class__.__name__}: {exc}")
        return 0
    if record is None:
        return 0
    if files_in is not None:
        try:
            await ws.inputs.delete_source(source, files_in, record.get("file_path"))
        except Exception as exc:  # noqa: BLE001 - the document is gone; report the file
            ws.pipeline.log(f"Could not delete {source}: {exc}")
    return 1


async def delete_input_file(folder: Path, file_path: str | None) -> None:
    """Delete the document's file from ``folder`` (see :func:`_delete_input_file`)."""
    await asyncio.to_thread(_delete_input_file, folder, file_path)


def _delete_input_file(folder: Path, file_path: str | None) -> None:
    """Delete the document's file if it is a regular file directly inside ``folder``.

    A text's file_source is any string (``..``, a 1000-character name), so the name is
    checked before it becomes a path, and a failure is logged instead of stopping the job.
    """
    name = canonical_basename(file_path)
    if name in {UNKNOWN_SOURCE, ".", ".."}:
        return
    path = folder / name
    try:
        if path.parent.resolve() == folder.resolve() and path.is_file():
            path.unlink()
    except OSError as exc:
        logger.warning("could not delete input file %r: %s", name, exc)


@dataclass(frozen=True)
class ClearResult:
    dropped: int
    failed: list[str]
    files_deleted: int


async def clear_documents(ws: Workspace, folder: Path) -> ClearResult:
    """``DELETE /documents``: drop every store but the LLM cache, then the input files.

    Runs as the ``Clearing Documents`` job, which starts with an empty history.
    """
    job = StatusJob(ws.pipeline, "Clearing Documents", 0)
    job.claim()
    ws.pipeline.clear_history()
    job.log("Clearing Documents")
    try:
        dropped, failed = await ws.stores.drop_documents()
        files = await asyncio.to_thread(_delete_top_level_files, folder)
    finally:
        job.finish("Document clearing finished")
    return ClearResult(dropped, failed, files)


def _delete_top_level_files(folder: Path) -> int:
    """Delete the files directly in ``folder`` (subfolders such as __parsed__ stay)."""
    deleted = 0
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


RETRYABLE = ("failed", "pending", "parsing", "analyzing", "processing")


async def retry_documents(
    ws: Workspace, statuses: Sequence[str] = RETRYABLE, only: Collection[str] | None = None,
) -> list[str]:
    """Put failed (and interrupted) documents back to PENDING; duplicates stay failed.

    ``only`` limits it to those doc ids. Returns the ids to hand to the runner; each keeps
    its original track_id.
    """
    ids = []
    for record in await ws.stores.doc_status.by_status(statuses):
        if (record.get("metadata") or {}).get("is_duplicate"):
            continue
        if only is not None and record["id"] not in only:
            continue
        if record["status"] == "failed":
            await ws.stores.doc_status.upsert(
                [DocStatusRecord(**{**record, "status": "pending", "error_msg": None,
                                    "updated_at": now_iso()})]
            )
        ids.append(record["id"])
    return ids


# ------------------------------------------------------------- source conflicts


def owns_source(record: DocStatusRecord) -> bool:
    """Whether ``record`` claims its canonical basename.

    Duplicate records, documents demoted by a conflict repair and texts without a
    source never do.
    """
    meta = record.get("metadata") or {}
    if meta.get("is_duplicate") or meta.get("demoted_by"):
        return False
    return canonical_basename(record.get("file_path")) != UNKNOWN_SOURCE


async def sources_by_key(ws: Workspace) -> dict[str, list[DocStatusRecord]]:
    """The documents owning each canonical basename, read from the whole of doc_status.

    Keys are canonical basenames, so a document stored under a hinted name by an older
    version is grouped with its canonical name.
    """
    found: dict[str, DocStatusRecord] = {}
    page = 1
    while True:
        batch = await ws.stores.doc_status.page(
            statuses=None, page=page, page_size=LISTING_PAGE, sort_field="id", sort_direction="asc"
        )
        found.update((record["id"], record) for record in batch.documents)
        if not batch.documents or page * LISTING_PAGE >= batch.total_count:
            break
        page += 1
    owners: dict[str, list[DocStatusRecord]] = defaultdict(list)
    for record in found.values():
        if owns_source(record):
            owners[canonical_basename(record.get("file_path"))].append(record)
    return owners


async def source_conflicts(ws: Workspace) -> dict[str, list[str]]:
    """Canonical basenames owned by several documents, sorted, with their sorted doc ids."""
    owners = await sources_by_key(ws)
    return {key: sorted(r["id"] for r in owners[key])
            for key in sorted(owners) if len(owners[key]) > 1}


def conflict_fingerprint(doc_ids: Sequence[str]) -> str:
    """Identifies a conflict's set of documents, so a repair can check it did not change."""
    return mdhash("\n".join(sorted(doc_ids)))


@dataclass(frozen=True)
class ConflictRepair:
    canonical_source_key: str
    primary_doc_id: str
    candidate_count: int
    fingerprint: str
    demoted_doc_ids: list[str]
    committed: bool


async def repair_conflict(
    ws: Workspace, key: str, primary_doc_id: str, *, expected_count: int | None = None,
    expected_fingerprint: str | None = None, dry_run: bool = True,
) -> ConflictRepair:
    """Make ``primary_doc_id`` the only owner of ``key``; the other documents are demoted.

    Demoting loses nothing: a demoted document keeps its content, chunks, graph facts,
    status and file_path, and only gains ``metadata.demoted_by`` (the primary's id), so it
    no longer counts for the name (scan, conflict listing). Delete it by id to drop it.
    A dry run (the default) only reports what a commit would do.
    """
    async with ws.locks.hold([f"source:{key}"]):
        ids = (await source_conflicts(ws)).get(key)
        if ids is None:
            raise UnknownConflictError(
                f"No source conflict for '{key}'. List current conflicts with "
                "GET /documents/source_conflicts."
            )
        _check_expected(key, ids, primary_doc_id, expected_count, expected_fingerprint)
        demoted = [doc_id for doc_id in ids if doc_id != primary_doc_id]
        if not dry_run:
            await _demote(ws, demoted, primary_doc_id)
    return ConflictRepair(key, primary_doc_id, len(ids), conflict_fingerprint(ids), demoted,
                          committed=not dry_run)


def _check_expected(
    key: str, ids: list[str], primary: str, count: int | None, fingerprint: str | None
) -> None:
    if primary not in ids:
        raise UnknownConflictError(
            f"Document '{primary}' is not one of the documents named '{key}'. "
            "Choose primary_doc_id among the conflict's doc ids."
        )
    if count is not None and count != len(ids):
        raise ConflictChangedError(
            f"'{key}' now has {len(ids)} candidate documents, not {count}. "
            "Run a dry run again and confirm its result."
        )
    if fingerprint is not None and fingerprint != conflict_fingerprint(ids):
        raise ConflictChangedError(
            f"The documents named '{key}' changed since the fingerprint was taken. "
            "Run a dry run again and confirm its result."
        )


async def _demote(ws: Workspace, doc_ids: Sequence[str], primary: str) -> None:
    # Each row is read again just before it is written, so a status the pipeline set
    # meanwhile is kept.
    stamp = now_iso()
    for doc_id in doc_ids:
        record = await ws.stores.doc_status.get(doc_id)
        if record is None:
            continue
        metadata = {**(record.get("metadata") or {}), "demoted_by": primary, "demoted_at": stamp}
        await ws.stores.doc_status.upsert([DocStatusRecord(**{**record, "metadata": metadata})])
        ws.pipeline.log(f"Demoted {doc_id} ({record.get('file_path')}): {primary} owns the name")
