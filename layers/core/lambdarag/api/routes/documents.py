"""``/documents/*``: insert texts and files, follow their status, delete them."""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, HTTPException, UploadFile

from lambdarag import documents
from lambdarag.api.deps import EngineDep, SettingsDep, WorkspaceDep
from lambdarag.api.schemas import (
    DeleteDocRequest,
    DeleteDocResponse,
    DocStatusResponse,
    InsertResponse,
    InsertTextRequest,
    InsertTextsRequest,
    TrackStatusResponse,
)
from lambdarag.documents import NewDocument
from lambdarag.engine import Engine
from lambdarag.indexing.parse import SUPPORTED_EXTENSIONS, is_supported
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
    folder = (settings.input_dir / ws.name).resolve() if ws.name else settings.input_dir.resolve()
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
                folder = settings.input_dir / ws.name if ws.name else settings.input_dir
                (folder / canonical_source(record.get("file_path"))).unlink(missing_ok=True)

    tasks.add_task(run)
    return DeleteDocResponse(
        status="deletion_started",
        message=f"Document deletion for {len(body.doc_ids)} documents has been initiated. "
        "Processing will continue in background.",
        doc_id=ids,
    )
