"""``/documents/*``: insert texts and files, follow their status, delete them."""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, HTTPException, Response, UploadFile

from lambdarag import documents
from lambdarag.api.deps import EngineDep, SettingsDep, WorkspaceDep
from lambdarag.api.schemas import (
    DOC_STATUSES,
    DeleteDocRequest,
    DeleteDocResponse,
    DocStatusResponse,
    InsertResponse,
    InsertTextRequest,
    InsertTextsRequest,
    PaginatedDocsRequest,
    PaginatedDocsResponse,
    PaginationInfo,
    ReprocessResponse,
    ScanResponse,
    StatusCountsResponse,
    StatusMessage,
    TrackStatusResponse,
)
from lambdarag.config import Settings
from lambdarag.documents import NewDocument
from lambdarag.engine import Engine
from lambdarag.indexing.parse import SUPPORTED_EXTENSIONS, is_supported
from lambdarag.scan import ScanJob, scan_input_dir
from lambdarag.utils import UNKNOWN_SOURCE, canonical_source, new_track_id
from lambdarag.workspace import Workspace

router = APIRouter(prefix="/documents", tags=["documents"])
PIECE = 1024 * 1024
_UNSAFE = re.compile(r"[/\\:]")


async def _reject_known_sources(ws: Workspace, sources: list[str], verb: str) -> None:
    for source in sources:
        if source == UNKNOWN_SOURCE:
            continue
        existing = await ws.stores.doc_status.by_file_path(source)
        if existing:
            raise HTTPException(
                409,
                f"Document storage already contains '{source}' (Status: {existing[0]['status']}). "
                f"Delete the existing record before {verb}.",
            )


async def _enqueue(engine: Engine, ws: Workspace, docs: list[NewDocument], track_id: str) -> None:
    result = await documents.enqueue(ws, docs, track_id)
    if result.doc_ids:
        await engine.runner.submit(ws.name, result.doc_ids)


@router.post("/text", response_model=InsertResponse, summary="Insert one text")
async def insert_text(body: InsertTextRequest, engine: EngineDep, ws: WorkspaceDep) -> InsertResponse:
    """Store the text as a PENDING document and index it in the background."""
    source = canonical_source(body.file_source)
    await _reject_known_sources(ws, [source], "re-inserting")
    track_id = new_track_id("insert")
    await _enqueue(engine, ws, [NewDocument(source, body.text)], track_id)
    return InsertResponse(
        status="success",
        message="Text successfully received. Processing will continue in background.",
        track_id=track_id,
    )


@router.post("/texts", response_model=InsertResponse, summary="Insert several texts")
async def insert_texts(body: InsertTextsRequest, engine: EngineDep, ws: WorkspaceDep) -> InsertResponse:
    sources = [canonical_source(s) for s in body.file_sources or [None] * len(body.texts)]
    known = [s for s in sources if s != UNKNOWN_SOURCE]
    if len(set(known)) != len(known):
        raise HTTPException(400, "file_sources must be unique by filename")
    await _reject_known_sources(ws, sources, "re-inserting")
    track_id = new_track_id("insert")
    docs = [NewDocument(s, t) for s, t in zip(sources, body.texts, strict=True)]
    await _enqueue(engine, ws, docs, track_id)
    return InsertResponse(
        status="success",
        message="Texts successfully received. Processing will continue in background.",
        track_id=track_id,
    )


def _safe_filename(raw: str | None) -> str:
    name = raw or ""
    if not name:
        raise HTTPException(400, "Filename cannot be empty")
    if name != name.strip() or any(unicodedata.category(c) in {"Cc", "Cs"} for c in name):
        raise HTTPException(400, "Invalid filename")
    if _UNSAFE.search(name) or name in {".", ".."}:
        raise HTTPException(400, "Unsafe filename detected")
    return name


@router.post("/upload", response_model=InsertResponse, summary="Upload a file")
async def upload(
    file: UploadFile, engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep
) -> InsertResponse:
    """Save the file under INPUT_DIR and index it in the background."""
    name = _safe_filename(file.filename)
    if not is_supported(name):
        raise HTTPException(400, f"Unsupported file type. Supported types: ({', '.join(SUPPORTED_EXTENSIONS)})")
    folder = _input_folder(settings, ws).resolve()
    target = (folder / name).resolve()
    if target.parent != folder:
        raise HTTPException(400, "Unsafe filename detected")
    await _reject_known_sources(ws, [name], "re-uploading")
    if target.exists():
        raise HTTPException(
            409, f"Input directory already contains a file with the same canonical basename ({name}). "
            "Delete the existing record before re-uploading.",
        )
    await _save(file, target, settings.max_upload_size or 0)
    track_id = new_track_id("upload")
    await _enqueue(engine, ws, [NewDocument(name, source_file=str(target))], track_id)
    return InsertResponse(
        status="success",
        message=f"File '{name}' uploaded successfully. Processing will continue in background.",
        track_id=track_id,
    )


async def _save(file: UploadFile, target: Path, limit: int) -> None:
    """Stream the upload to ``target`` in 1 MiB pieces, enforcing MAX_UPLOAD_SIZE."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    size = 0
    try:
        with partial.open("wb") as out:
            while piece := await file.read(PIECE):
                size += len(piece)
                if limit and size > limit:
                    raise HTTPException(
                        413, f"File too large. Maximum size: {limit / 1048576:.1f}MB, "
                        f"uploaded: {size / 1048576:.1f}MB",
                    )
                await asyncio.to_thread(out.write, piece)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@router.get("/pipeline_status", summary="Indexing pipeline state")
async def pipeline_status(engine: EngineDep, ws: WorkspaceDep) -> dict[str, object]:
    status = ws.pipeline.as_dict()
    status["busy"] = engine.runner.is_busy(ws.name)
    return status


@router.get("/track_status/{track_id}", response_model=TrackStatusResponse)
async def track_status(track_id: str, ws: WorkspaceDep) -> TrackStatusResponse:
    if not track_id.strip():
        raise HTTPException(400, "Track ID cannot be empty")
    records = await ws.stores.doc_status.by_track_id(track_id.strip())
    return TrackStatusResponse(
        track_id=track_id,
        documents=[DocStatusResponse.of(dict(r)) for r in records],
        total_count=len(records),
        status_summary=dict(Counter(r["status"] for r in records)),
    )


@router.delete("/delete_document", response_model=DeleteDocResponse)
async def delete_document(
    body: DeleteDocRequest, ws: WorkspaceDep, settings: SettingsDep, tasks: BackgroundTasks
) -> DeleteDocResponse:
    """Delete documents in the background; allowed while indexing runs."""
    ids = ", ".join(body.doc_ids)

    async def run() -> None:
        ws.pipeline.log(f"Deleting {len(body.doc_ids)} Documents")
        for doc_id in body.doc_ids:
            record = await ws.stores.doc_status.get(doc_id)
            await documents.delete_document(ws, doc_id, delete_llm_cache=body.delete_llm_cache)
            if body.delete_file and record:
                folder = _input_folder(settings, ws)
                (folder / canonical_source(record.get("file_path"))).unlink(missing_ok=True)

    tasks.add_task(run)
    return DeleteDocResponse(
        status="deletion_started",
        message=f"Document deletion for {len(body.doc_ids)} documents has been initiated. "
        "Processing will continue in background.",
        doc_id=ids,
    )


def _input_folder(settings: Settings, ws: Workspace) -> Path:
    """INPUT_DIR, or INPUT_DIR/<workspace> for a named workspace."""
    return settings.input_dir / ws.name if ws.name else settings.input_dir


async def _all_counts(ws: Workspace) -> dict[str, int]:
    counts = await ws.stores.doc_status.status_counts()
    full = {status: counts.get(status, 0) for status in DOC_STATUSES}
    full["all"] = sum(counts.values())
    return full


@router.post("/paginated", response_model=PaginatedDocsResponse, summary="Paged document list")
async def paginated(body: PaginatedDocsRequest, ws: WorkspaceDep) -> PaginatedDocsResponse:
    found = await ws.stores.doc_status.page(
        statuses=body.statuses(), page=body.page, page_size=body.page_size,
        sort_field=body.sort_field, sort_direction=body.sort_direction,
    )
    pages = -(-found.total_count // body.page_size)
    return PaginatedDocsResponse(
        documents=[DocStatusResponse.of(dict(r)) for r in found.documents],
        pagination=PaginationInfo(
            page=body.page, page_size=body.page_size, total_count=found.total_count,
            total_pages=pages, has_next=body.page < pages, has_prev=body.page > 1,
        ),
        status_counts=await _all_counts(ws),
    )


@router.get("/status_counts", response_model=StatusCountsResponse, summary="Counts per status")
async def status_counts(ws: WorkspaceDep) -> StatusCountsResponse:
    return StatusCountsResponse(status_counts=await _all_counts(ws))


@router.get("", summary="Documents grouped by status (LightRAG 1.4 route)")
async def list_documents(ws: WorkspaceDep) -> dict[str, dict[str, list[DocStatusResponse]]]:
    """At most 1000 documents, taken round-robin across the statuses."""
    groups = {s: await ws.stores.doc_status.by_status([s])
              for s in ("pending", "processing", "preprocessed", "processed", "failed")}
    picked: dict[str, list[DocStatusResponse]] = {s: [] for s in groups}
    index, total = 0, 0
    while total < 1000 and any(index < len(g) for g in groups.values()):
        for status, records in groups.items():
            if index < len(records) and total < 1000:
                picked[status].append(DocStatusResponse.of(dict(records[index])))
                total += 1
        index += 1
    return {"statuses": picked}


@router.get("/supported_file_types", summary="File types accepted by /documents/upload")
async def supported_file_types(response: Response) -> dict[str, object]:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "LIGHTRAG-WORKSPACE"
    extensions = sorted(SUPPORTED_EXTENSIONS)
    return {"supported_extensions": extensions, "engines": {"legacy": extensions}}


@router.delete("", response_model=StatusMessage, summary="Delete every document")
async def clear_documents(engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep) -> StatusMessage:
    """Drop all document data of the workspace (not the LLM cache) and its input files."""
    if engine.runner.is_busy(ws.name):
        return StatusMessage(status="busy", message="Pipeline is busy")
    ws.pipeline.history_messages.clear()
    ws.pipeline.log("Clearing Documents")
    dropped, failed = await ws.stores.drop_documents()
    folder = _input_folder(settings, ws)
    deleted = 0
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    if not dropped:
        return StatusMessage(status="fail", message="All storage drop operations failed. Aborting document clearing process.")
    if failed:
        return StatusMessage(status="partial_success", message=f"Cleared documents with some errors. Deleted {deleted} files.")
    return StatusMessage(status="success", message=f"All documents cleared successfully. Deleted {deleted} files.")


@router.post("/clear_cache", response_model=StatusMessage, summary="Drop the LLM response cache")
async def clear_cache(ws: WorkspaceDep) -> StatusMessage:
    await ws.stores.llm_response_cache.drop()
    return StatusMessage(status="success", message="Successfully cleared all cache")


@router.post("/reprocess_failed", response_model=ReprocessResponse, summary="Retry failed documents")
async def reprocess_failed(engine: EngineDep, ws: WorkspaceDep) -> ReprocessResponse:
    """Failed, pending and interrupted documents go through the pipeline again."""
    ids = await documents.retry_documents(ws)
    await engine.runner.submit(ws.name, ids)
    return ReprocessResponse(
        status="reprocessing_started",
        message=f"Reprocessing of failed documents has been initiated ({len(ids)} documents).",
        track_id="",
    )


@router.post("/cancel_pipeline", response_model=StatusMessage, summary="Cancel the running pipeline")
async def cancel_pipeline(engine: EngineDep, ws: WorkspaceDep) -> StatusMessage:
    if not engine.runner.is_busy(ws.name):
        return StatusMessage(status="not_busy", message="Pipeline is not currently running. No cancellation needed.")
    ws.pipeline.cancellation_requested = True
    ws.pipeline.log("Cancellation requested")
    return StatusMessage(
        status="cancellation_requested",
        message="Pipeline cancellation has been requested. Documents will be marked as FAILED.",
    )


@router.post("/scan", response_model=ScanResponse, summary="Index new files of INPUT_DIR")
async def scan(engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep, tasks: BackgroundTasks) -> ScanResponse:
    """Retry failed documents, enqueue new files and move them to ``__parsed__``."""
    job = ScanJob(new_track_id("scan"))
    engine.scan_jobs[job.track_id] = job

    async def run() -> None:
        try:
            retry = await documents.retry_documents(ws, ("failed",))
            new = await scan_input_dir(ws, _input_folder(settings, ws), job)
            await engine.runner.submit(ws.name, retry + new)
            job.status, job.message = "completed", f"{len(new)} new files enqueued"
        except Exception as exc:  # noqa: BLE001 - the job record reports it
            job.status, job.message = "failed", f"{exc.__class__.__name__}: {exc}"

    tasks.add_task(run)
    return ScanResponse(status="scanning_started",
                        message="Scanning process has been initiated in the background",
                        track_id=job.track_id)


@router.get("/scan/status/{track_id}", summary="Status of a scan")
async def scan_status(track_id: str, engine: EngineDep) -> dict[str, object]:
    job = engine.scan_jobs.get(track_id)
    if job is None:
        raise HTTPException(404, f"Scan job {track_id} not found")
    return job.as_dict()
