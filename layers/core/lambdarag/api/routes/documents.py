"""``/documents/*``: insert texts and files, follow their status, delete them.

Thin: wire shapes and status codes here, the work in ``lambdarag.documents.lifecycle`` and
``lambdarag.documents.scan``. Refusals are ``documents.DocumentRequestError`` subclasses, which
the app's one handler answers with their status and a detail that says what to change.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)

from lambdarag.api.deps import EngineDep, SettingsDep, WorkspaceDep
from lambdarag.api.schemas import (
    DOC_STATUSES,
    DeleteDocRequest,
    DeleteDocResponse,
    DocStatusResponse,
    ForceResetRequest,
    ForceResetResponse,
    InsertResponse,
    InsertTextRequest,
    InsertTextsRequest,
    PaginatedDocsRequest,
    PaginatedDocsResponse,
    PaginationInfo,
    RepairConflictRequest,
    RepairConflictResponse,
    ReprocessResponse,
    ScanResponse,
    SourceConflict,
    SourceConflictsResponse,
    StatusCountsResponse,
    StatusMessage,
    TextChunkingConfig,
    TrackStatusResponse,
    error_response,
    example_response,
    examples_response,
)
from lambdarag.config import Settings
from lambdarag.documents import lifecycle as documents
from lambdarag.documents.lifecycle import NewDocument
from lambdarag.documents.ports import DeleteRequest
from lambdarag.documents.scan import ScanJob
from lambdarag.indexing import strategies
from lambdarag.indexing.parse import SUPPORTED_EXTENSIONS, canonical_basename
from lambdarag.runtime.engine import Engine
from lambdarag.utils import UNKNOWN_SOURCE, new_track_id
from lambdarag.workspace.pipeline_status import PipelineStatus
from lambdarag.workspace.workspace import Workspace

router = APIRouter(prefix="/documents", tags=["documents"])

BAD_CURSOR = ("Invalid cursor: pass the next_cursor of the previous response, "
              "or no cursor for the first page")
TEXTS_NEED_SOURCES = "A valid file_source is required for each text"


# ------------------------------------------------------------------ OpenAPI examples

TRACK_ID = "insert_20250101_120000_1a2b3c4d"
DOC_ID = "doc-3f2c2f5bd3c1ba2c6a1e0e1c9ad8e2c4"
DOC = {"id": DOC_ID, "content_summary": "Alice Smith founded Acme Corp in Berlin.",
       "content_length": 1520, "status": "processed", "created_at": "2025-01-01T12:00:00+00:00",
       "updated_at": "2025-01-01T12:00:09+00:00", "track_id": TRACK_ID, "chunks_count": 2,
       "error_msg": None, "metadata": {"process_start_time": 1735732800,
                                       "process_end_time": 1735732809},
       "file_path": "acme.txt"}
BACKGROUND = "Processing will continue in background."
TEXT_EXISTS = ("Document storage already contains 'acme.txt' (Status: processed). "
               "Delete the existing record before re-inserting.")
COUNTS = {**dict.fromkeys(DOC_STATUSES, 0), "processed": 1, "all": 1}
PIPELINE = {
    "autoscanned": False, "busy": True, "job_name": "Deleting 2 Documents",
    "job_start": "2025-01-01T12:00:00+00:00", "docs": 2, "batchs": 2, "cur_batch": 1,
    "request_pending": False, "latest_message": f"Deleted document {DOC_ID} (acme.txt): ...",
    "history_messages": ["Deleting 2 Documents", f"Deleted document {DOC_ID} (acme.txt): ..."],
    "cancellation_requested": False, "scanning": False, "destructive_busy": False,
    "pending_enqueues": 0, "update_status": {},
}
SCAN_STATUS = {
    "track_id": "scan_20250101_120000_1a2b3c4d", "status": "completed",
    "counts": {"claimed_new": 1, "source_conflict": 1}, "counters_dropped": 0,
    "samples": {"claimed_new": {"items": ["notes.md"], "truncated": False, "dropped": 0},
                "source_conflict": {"items": ["report.pdf"], "truncated": False, "dropped": 0}},
    "created_at": 1735732800.0, "updated_at": 1735732801.0, "version": 2,
    "message": "1 new files enqueued",
}
REPAIR = {"canonical_source_key": "report.pdf", "primary_doc_id": DOC_ID, "candidate_count": 2,
          "fingerprint": "9b0f6c2d4c7f4e55a1f1d1d0c2a3b4c5",
          "demoted_sample_doc_ids": ["doc-8d777f385d3dfec8815d20f7496026dc"], "committed": False}


def _inserted(message: str, track_id: str = TRACK_ID) -> dict[int | str, Any]:
    return {200: example_response("Accepted; follow it with /documents/track_status.",
                                  {"status": "success", "message": message, "track_id": track_id})}


def _input_folder(settings: Settings, ws: Workspace) -> Path:
    """The workspace's folder under INPUT_DIR; 400 for a workspace that cannot have one."""
    return documents.input_folder(settings.input_dir, ws.name)


async def _enqueue(engine: Engine, ws: Workspace, docs: list[NewDocument], track_id: str) -> None:
    result = await documents.enqueue(ws, docs, track_id)
    if result.doc_ids:
        await engine.runner.submit(ws.name, result.doc_ids)


# ----------------------------------------------------------------------- intake


@router.post(
    "/text", response_model=InsertResponse, summary="Insert one text",
    responses={**_inserted(f"Text successfully received. {BACKGROUND}"),
               409: error_response("A document that has not failed already has this file_source.",
                                   TEXT_EXISTS)},
)
async def insert_text(body: InsertTextRequest, engine: EngineDep, ws: WorkspaceDep) -> InsertResponse:
    """Store the text as a PENDING document and index it in the background.

    ``file_source`` is reduced to its canonical basename (no folders, no parser hint); a
    name already stored is refused with 409, unless its document FAILED: then the new text
    replaces it (a retry).
    """
    source = canonical_basename(body.file_source)
    chunking = _chunking(ws, body.chunking)
    failed = await documents.claim_sources(ws, [source], "re-inserting")
    await documents.replace_failed(ws, failed)
    track_id = new_track_id("insert")
    await _enqueue(engine, ws, [NewDocument(source, body.text, **chunking)], track_id)
    return InsertResponse(status="success", message=f"Text successfully received. {BACKGROUND}",
                          track_id=track_id)


def _chunking(ws: Workspace, chunking: TextChunkingConfig | None) -> dict[str, Any]:
    """The documents' frozen chunking (``process_options``, ``chunk_options``) for a
    request's ``chunking``; none: the server's defaults when they are chunked. A strategy
    the server cannot follow (``custom``) is 422, before anything is stored."""
    if chunking is None:
        return {}
    return strategies.resolve(chunking.strategy, chunking.params, ws.indexing.chunker)


def _text_sources(body: InsertTextsRequest) -> list[str]:
    """The canonical basenames of ``file_sources``: one valid, unique name per text."""
    raw = body.file_sources or []
    sources = [canonical_basename(s) for s in raw]
    if (len(sources) != len(body.texts) or UNKNOWN_SOURCE in sources
            or any(ord(c) < 32 for s in raw for c in s)):
        raise HTTPException(400, TEXTS_NEED_SOURCES)
    if len(set(sources)) != len(sources):
        raise HTTPException(400, "file_sources must be unique by filename")
    return sources


@router.post(
    "/texts", response_model=InsertResponse, summary="Insert several texts",
    responses={**_inserted(f"Texts successfully received. {BACKGROUND}"),
               400: error_response("file_sources missing, invalid or not unique.",
                                   TEXTS_NEED_SOURCES),
               409: error_response("A document that has not failed already has one of the names.",
                                   TEXT_EXISTS),
               413: error_response("More texts than MAX_TEXTS_PER_REQUEST allows.",
                                   "Too many texts in one request: 3 (maximum 2). Split the "
                                   "batch into smaller requests.")},
)
async def insert_texts(body: InsertTextsRequest, engine: EngineDep, ws: WorkspaceDep,
                       settings: SettingsDep) -> InsertResponse:
    """Store the texts as PENDING documents and index them in the background.

    ``file_sources`` is required: one name per text, unique by canonical basename and not
    stored yet, or stored by a FAILED document, which the new text replaces (a retry).
    """
    limit = settings.max_texts_per_request
    if limit and len(body.texts) > limit:
        raise HTTPException(413, f"Too many texts in one request: {len(body.texts)} (maximum "
                                 f"{limit}). Split the batch into smaller requests.")
    sources = _text_sources(body)
    chunking = _chunking(ws, body.chunking)
    failed = await documents.claim_sources(ws, sources, "re-inserting")
    await documents.replace_failed(ws, failed)
    track_id = new_track_id("insert")
    docs = [NewDocument(s, t, **chunking) for s, t in zip(sources, body.texts, strict=True)]
    await _enqueue(engine, ws, docs, track_id)
    return InsertResponse(status="success", message=f"Texts successfully received. {BACKGROUND}",
                          track_id=track_id)


async def _pieces(file: UploadFile) -> AsyncIterator[bytes]:
    while piece := await file.read(documents.PIECE):
        yield piece


@router.post(
    "/upload", response_model=InsertResponse, summary="Upload a file",
    responses={
        **_inserted(f"File 'report.pdf' uploaded successfully. {BACKGROUND}",
                    "upload_20250101_120000_1a2b3c4d"),
        400: error_response("Empty, invalid or unsafe filename, an unsupported type, or content "
                            "that cannot be indexed (an empty file, binary content under a "
                            "text extension, a PDF or Office file that is not one).",
                            "notes.txt looks like a binary file, not text: upload it under the "
                            "extension of its real type"),
        409: error_response("The name is already stored (by a document that has not failed) or "
                            "waiting in the input directory.",
                            "Document storage already contains 'report.pdf' (Status: processed). "
                            "Delete the existing record before re-uploading."),
        413: error_response("Larger than MAX_UPLOAD_SIZE.",
                            "File too large. Maximum size: 100.0MB, uploaded: 101.0MB"),
    },
)
async def upload(
    file: Annotated[UploadFile | str, File(description="The file, sent with its name.")],
    request: Request, engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep,
) -> InsertResponse:
    """Save the file under INPUT_DIR and index it in the background.

    The stored name is the canonical basename: ``report.[mineru].pdf`` is saved and
    listed as ``report.pdf``. One file per request: a form with several ``file`` parts is 400.
    A file that cannot be indexed is refused at once (400), and nothing is stored. Uploading
    the file of a FAILED document again replaces that document: it is retried.
    """
    parts = len((await request.form()).getlist("file"))  # the form FastAPI already parsed
    if parts > 1:
        raise HTTPException(400, f"Send one file per request: the form has {parts} parts "
                                 "named 'file'.")
    if isinstance(file, str):  # a multipart part with an empty filename arrives as text
        raise HTTPException(400, "Filename cannot be empty")
    folder = _input_folder(settings, ws)
    doc = await documents.store_file(ws, folder, file.filename, _pieces(file),
                                     settings.max_upload_size or 0)
    track_id = new_track_id("upload")
    doc_ids = await engine.inputs.accept_upload(ws, doc, track_id)
    if doc_ids:
        await engine.runner.submit(ws.name, doc_ids)
    return InsertResponse(
        status="success",
        message=f"File '{doc.file_path}' uploaded successfully. {BACKGROUND}",
        track_id=track_id,
    )


# ------------------------------------------------------------------------ status


@router.get(
    "/pipeline_status", summary="Indexing pipeline state",
    responses={200: example_response("The workspace's pipeline record (here during a delete).",
                                     PIPELINE)},
)
async def pipeline_status(ws: WorkspaceDep) -> dict[str, object]:
    """The current or last job of the workspace: indexing, ``Deleting N Documents`` or
    ``Clearing Documents``, with the last 1000 history messages."""
    return (await ws.refresh_pipeline()).as_dict()


@router.get(
    "/track_status/{track_id}", response_model=TrackStatusResponse,
    summary="Documents of a track id",
    responses={
        200: example_response("The documents created by the request of that track id.",
                              {"track_id": TRACK_ID, "documents": [DOC], "total_count": 1,
                               "status_summary": {"processed": 1}}),
        400: error_response("A blank track id.", "Track ID cannot be empty"),
    },
)
async def track_status(track_id: str, ws: WorkspaceDep) -> TrackStatusResponse:
    """Every document (duplicates included) created by the request that returned
    ``track_id``; an unknown id gives an empty list."""
    if not track_id.strip():
        raise HTTPException(400, "Track ID cannot be empty")
    records = await ws.stores.doc_status.by_track_id(track_id.strip())
    return TrackStatusResponse(
        track_id=track_id,
        documents=[DocStatusResponse.of(dict(r)) for r in records],
        total_count=len(records),
        status_summary=dict(Counter(r["status"] for r in records)),
    )


async def _all_counts(ws: Workspace) -> dict[str, int]:
    counts = await ws.stores.doc_status.status_counts()
    full = {status: counts.get(status, 0) for status in DOC_STATUSES}
    full["all"] = sum(counts.values())
    return full


@router.post(
    "/paginated", response_model=PaginatedDocsResponse, summary="Paged document list",
    responses={200: example_response("One page, its position and the counts per status.", {
        "documents": [DOC], "status_counts": COUNTS,
        "pagination": {"page": 1, "page_size": 50, "total_count": 1, "total_pages": 1,
                       "has_next": False, "has_prev": False}})},
)
async def paginated(body: PaginatedDocsRequest, ws: WorkspaceDep) -> PaginatedDocsResponse:
    """Documents filtered by status and sorted; ``status_counts`` covers every status."""
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


@router.get(
    "/status_counts", response_model=StatusCountsResponse, summary="Counts per status",
    responses={200: example_response("Every status, zeros included, and all.",
                                     {"status_counts": COUNTS})},
)
async def status_counts(ws: WorkspaceDep) -> StatusCountsResponse:
    """How many documents are in each status, plus ``all``."""
    return StatusCountsResponse(status_counts=await _all_counts(ws))


@router.get(
    "", summary="Documents grouped by status (LightRAG 1.4 route)",
    responses={200: example_response("At most 1000 documents.", {"statuses": {
        "pending": [], "processing": [], "preprocessed": [], "processed": [DOC], "failed": []}})},
)
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


@router.get(
    "/supported_file_types", summary="File types accepted by /documents/upload",
    responses={200: example_response("Sent with Cache-Control: no-store.", {
        "supported_extensions": [".docx", ".md", ".pdf", ".txt"],
        "engines": {"legacy": [".docx", ".md", ".pdf", ".txt"]}})},
)
async def supported_file_types(response: Response) -> dict[str, object]:
    """The upload allow-list; this server has one parsing engine, ``legacy``."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "LIGHTRAG-WORKSPACE"
    extensions = sorted(SUPPORTED_EXTENSIONS)
    return {"supported_extensions": extensions, "engines": {"legacy": extensions}}


# ---------------------------------------------------------------------- removal


@router.delete(
    "/delete_document", response_model=DeleteDocResponse, summary="Delete documents by id",
    responses={200: example_response("Started; follow it in /documents/pipeline_status.", {
        "status": "deletion_started", "doc_id": DOC_ID,
        "message": f"Document deletion for 1 documents has been initiated. {BACKGROUND}"})},
)
async def delete_document(
    body: DeleteDocRequest, engine: EngineDep, ws: WorkspaceDep, settings: SettingsDep,
    tasks: BackgroundTasks,
) -> DeleteDocResponse:
    """Delete documents in the background, rebuilding what their chunks touched.

    Allowed while indexing runs. The job shows in ``pipeline_status`` as
    ``Deleting N Documents`` and stops between documents on ``cancel_pipeline``.
    """
    request = DeleteRequest(ws.name, list(body.doc_ids), body.delete_file, body.delete_llm_cache)
    folder = _input_folder(settings, ws) if body.delete_file else None
    await engine.deletes.submit(ws, request, folder, tasks.add_task)
    return DeleteDocResponse(
        status="deletion_started",
        message=f"Document deletion for {len(body.doc_ids)} documents has been initiated. "
        f"{BACKGROUND}",
        doc_id=", ".join(body.doc_ids),
    )


@router.delete(
    "", response_model=StatusMessage, summary="Delete every document",
    responses={200: examples_response("Cleared, partly cleared, or refused while busy.", {
        "success": {"status": "success",
                    "message": "All documents cleared successfully. Deleted 3 files."},
        "busy": {"status": "busy", "message": "Pipeline is busy"}})},
)
async def clear_documents(engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep) -> StatusMessage:
    """Drop all document data of the workspace (not the LLM cache) and its input files.

    Refused with ``busy`` while indexing or a delete runs.
    """
    folder = _input_folder(settings, ws)
    if (await ws.refresh_pipeline()).busy:
        return StatusMessage(status="busy", message="Pipeline is busy")
    result = await documents.clear_documents(ws, folder)
    if result.dropped:  # files the input store keeps beyond the folder (the drop folder)
        try:
            deleted = await engine.inputs.clear(ws.name)
        except Exception as exc:  # noqa: BLE001 - botocore's errors: the stores are cleared
            ws.pipeline.log(f"Could not delete the drop files: {exc}")
            result = replace(result, failed=[*result.failed, "input bucket"])
        else:
            result = replace(result, files_deleted=result.files_deleted + deleted)
    if not result.dropped:
        return StatusMessage(status="fail", message="All storage drop operations failed. "
                             "Aborting document clearing process.")
    if result.failed:
        return StatusMessage(status="partial_success", message="Cleared documents with some "
                             f"errors. Deleted {result.files_deleted} files.")
    return StatusMessage(status="success", message="All documents cleared successfully. "
                         f"Deleted {result.files_deleted} files.")


@router.post(
    "/clear_cache", response_model=StatusMessage, summary="Drop the LLM response cache",
    responses={200: example_response("Dropped.", {"status": "success",
                                                  "message": "Successfully cleared all cache"})},
)
async def clear_cache(ws: WorkspaceDep) -> StatusMessage:
    """Drop every cached LLM answer of the workspace; any body is ignored."""
    await ws.stores.llm_response_cache.drop()
    return StatusMessage(status="success", message="Successfully cleared all cache")


# ----------------------------------------------------------------- pipeline control


@router.post(
    "/reprocess_failed", response_model=ReprocessResponse, summary="Retry failed documents",
    responses={200: example_response("Started.", {
        "status": "reprocessing_started", "track_id": "",
        "message": "Reprocessing of failed documents has been initiated (2 documents)."})},
)
async def reprocess_failed(engine: EngineDep, ws: WorkspaceDep) -> ReprocessResponse:
    """Failed, pending and interrupted documents go through the pipeline again."""
    ids = await documents.retry_documents(ws)
    await engine.runner.submit(ws.name, ids)
    return ReprocessResponse(
        status="reprocessing_started",
        message=f"Reprocessing of failed documents has been initiated ({len(ids)} documents).",
        track_id="",
    )


@router.post(
    "/cancel_pipeline", response_model=StatusMessage, summary="Cancel the running pipeline",
    responses={200: examples_response("Requested, or nothing to cancel.", {
        "cancellation_requested": {
            "status": "cancellation_requested",
            "message": "Pipeline cancellation has been requested. "
                       "Documents will be marked as FAILED."},
        "not_busy": {"status": "not_busy", "message": "Pipeline is not currently running. "
                                                      "No cancellation needed."}})},
)
async def cancel_pipeline(ws: WorkspaceDep) -> StatusMessage:
    """Stop the job ``pipeline_status`` shows: indexing marks its documents FAILED
    (``User cancelled``); a delete stops before its next document."""
    if not (await ws.refresh_pipeline()).busy:
        return StatusMessage(status="not_busy", message="Pipeline is not currently running. "
                             "No cancellation needed.")

    await ws.change_pipeline(PipelineStatus.request_cancel)
    return StatusMessage(
        status="cancellation_requested",
        message="Pipeline cancellation has been requested. Documents will be marked as FAILED.",
    )


NO_FENCE = ("No recovery_required fence is set: each document keeps its own state, so an "
            "interrupted job resumes by itself and no workspace is ever fenced.")


@router.post(
    "/recovery/force_reset", response_model=ForceResetResponse,
    summary="Clear a recovery fence (LightRAG 1.5; there is none to clear here)",
    responses={200: example_response("Nothing to reset.", {
        "status": "no_recovery_required", "message": NO_FENCE, "cancelled_manual_retries": 0}),
               400: error_response("confirm was not true.", "Set confirm=true to force-reset.")},
)
async def force_reset(body: ForceResetRequest, ws: WorkspaceDep) -> ForceResetResponse:
    """LightRAG 1.5 fences a workspace whose worker died half-way through a delete or clear,
    and this route lifts the fence. LambdaRAG's steps are idempotent and resume on their
    own, so it never fences: the answer is always ``no_recovery_required``."""
    if not body.confirm:
        raise HTTPException(400, "Set confirm=true to force-reset.")
    return ForceResetResponse(status="no_recovery_required", message=NO_FENCE)


# -------------------------------------------------------------------------- scan


@router.post(
    "/scan", response_model=ScanResponse, summary="Index new files of INPUT_DIR",
    responses={200: example_response("Started; follow it with /documents/scan/status.", {
        "status": "scanning_started", "track_id": SCAN_STATUS["track_id"],
        "message": "Scanning process has been initiated in the background"})},
)
async def scan(engine: EngineDep, settings: SettingsDep, ws: WorkspaceDep, tasks: BackgroundTasks) -> ScanResponse:
    """Retry failed documents, enqueue new files and move them to ``__parsed__``.

    A file whose canonical basename several documents own is left in place and counted
    as ``source_conflict``.
    """
    folder = _input_folder(settings, ws)
    job = ScanJob(new_track_id("scan"))
    engine.scan_jobs[_scan_key(ws, job.track_id)] = job
    tasks.add_task(_run_scan, engine, settings, ws, folder, job)
    return ScanResponse(status="scanning_started",
                        message="Scanning process has been initiated in the background",
                        track_id=job.track_id)


def _scan_key(ws: Workspace, track_id: str) -> str:
    """Scan jobs are kept per workspace: a track id names a scan in its own workspace only."""
    return f"{ws.name}/{track_id}"


async def _run_scan(
    engine: Engine, settings: Settings, ws: Workspace, folder: Path, job: ScanJob
) -> None:
    try:
        retry = await documents.retry_documents(ws, ("failed",))
        new = await engine.inputs.scan(ws, folder, job)
        await engine.runner.submit(ws.name, retry + new)
        job.status, job.message = "completed", f"{len(new)} new files enqueued"
    except Exception as exc:  # noqa: BLE001 - the job record reports it
        job.status, job.message = "failed", f"{exc.__class__.__name__}: {exc}"


@router.get(
    "/scan/status/{track_id}", summary="Status of a scan",
    responses={200: example_response("Counters and sample file names per bucket.", SCAN_STATUS),
               404: error_response("No scan has this track id.",
                                   "Scan job scan_20250101_120000_1a2b3c4d not found")},
)
async def scan_status(track_id: str, engine: EngineDep, ws: WorkspaceDep) -> dict[str, object]:
    """Progress of one scan of this workspace started by ``POST /documents/scan`` in this
    process; another workspace's scan is not found."""
    job = engine.scan_jobs.get(_scan_key(ws, track_id))
    if job is None:
        raise HTTPException(404, f"Scan job {track_id} not found")
    return job.as_dict()


# -------------------------------------------------------------- source conflicts


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode("ascii")


def _after(cursor: str | None) -> str | None:
    """The last key of the previous page, from its ``next_cursor``."""
    if not cursor:
        return None
    try:
        key = base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError):
        raise HTTPException(400, BAD_CURSOR) from None
    if _cursor(key) != cursor:
        raise HTTPException(400, BAD_CURSOR)
    return key


@router.get(
    "/source_conflicts", response_model=SourceConflictsResponse,
    summary="Names owned by several documents",
    responses={
        200: example_response("One page of conflicts, sorted by key.", {
            "conflicts": [{"canonical_source_key": "report.pdf", "candidate_count": 2,
                           "sample_doc_ids": REPAIR["demoted_sample_doc_ids"] + [DOC_ID]}],
            "next_cursor": None}),
        400: error_response("A cursor that no page returned.", BAD_CURSOR),
    },
)
async def source_conflicts(
    ws: WorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> SourceConflictsResponse:
    """Canonical basenames that several documents claim (e.g. data written by older
    versions); scans leave such files alone until the conflict is repaired."""
    after = _after(cursor)
    conflicts = await documents.source_conflicts(ws)
    keys = [key for key in conflicts if after is None or key > after]
    page = keys[:limit]
    return SourceConflictsResponse(
        conflicts=[SourceConflict(canonical_source_key=key, candidate_count=len(conflicts[key]),
                                  sample_doc_ids=conflicts[key][: documents.SAMPLE_IDS])
                   for key in page],
        next_cursor=_cursor(page[-1]) if len(keys) > limit else None,
    )


@router.post(
    "/source_conflicts/repair", response_model=RepairConflictResponse,
    summary="Pick the document that owns a name",
    responses={
        200: example_response("What was (or, in a dry run, would be) demoted.", REPAIR),
        404: error_response("No conflict under that key, or the primary is not a candidate.",
                            "No source conflict for 'report.pdf'. List current conflicts "
                            "with GET /documents/source_conflicts."),
        409: error_response("The candidates changed since the dry run.",
                            "'report.pdf' now has 3 candidate documents, not 2. "
                            "Run a dry run again and confirm its result."),
    },
)
async def repair_source_conflict(body: RepairConflictRequest, ws: WorkspaceDep) -> RepairConflictResponse:
    """Make ``primary_doc_id`` the only owner of ``canonical_source_key``.

    Demoting keeps the other documents whole (content, chunks, graph facts, status and
    file_path stay); they get ``metadata.demoted_by`` and stop counting for the name.
    Delete them by id to drop them. Run with ``dry_run=true`` (the default) first, then
    commit with its ``candidate_count`` and ``fingerprint`` as the expected values.
    """
    repair = await documents.repair_conflict(
        ws, body.canonical_source_key, body.primary_doc_id,
        expected_count=body.expected_candidate_count,
        expected_fingerprint=body.expected_candidate_fingerprint, dry_run=body.dry_run,
    )
    return RepairConflictResponse(
        canonical_source_key=repair.canonical_source_key, primary_doc_id=repair.primary_doc_id,
        candidate_count=repair.candidate_count, fingerprint=repair.fingerprint,
        demoted_sample_doc_ids=repair.demoted_doc_ids[: documents.SAMPLE_IDS],
        committed=repair.committed,
    )
