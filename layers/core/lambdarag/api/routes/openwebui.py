"""Open WebUI's own API, so scripts written against an Open WebUI server work here unchanged.

Open WebUI documents a handful of calls for scripts (``Authorization: Bearer <key>`` on
each): its model list, its chat completions with ``files`` to answer from, file uploads,
adding a file to a knowledge collection, and its Ollama proxy. Here:

- a **knowledge collection is a workspace**: its id is the workspace name;
  ``POST /api/v1/knowledge/create`` makes one from a name;
- a **file is a document**: ``POST /api/v1/files/`` uploads it into the request's
  workspace (``LIGHTRAG-WORKSPACE``, else ``WORKSPACE``) and answers its document id;
  ``POST /api/v1/knowledge/{id}/file/add`` indexes the same file in the collection and
  answers once it is processed, or after ``LAMBDARAG_FILE_ADD_WAIT`` seconds with the file
  still indexing (its ``data.status``; the stack sets 20 s, under API Gateway's limit);
- ``POST /api/chat/completions`` is ``/v1/chat/completions`` plus ``files``: a
  ``collection`` answers from that workspace, a ``file`` from that document only;
- ``/ollama/api/*`` is the Ollama API of ``/api/*`` (chat, generate, tags, embed, ...).

The files and knowledge routes write, so they always want credentials when the server
has any, even with ``WHITELIST_PATHS`` opening ``/api/*`` for the Ollama chat routes.
Errors are ``{"detail": ...}`` as Open WebUI's are; the chat route answers OpenAI's shape.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.exceptions import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from lambdarag.api.auth import API_KEY_HEADER, BearerDep, Principal, authenticator
from lambdarag.api.deps import (
    EngineDep,
    PrincipalDep,
    SettingsDep,
    WorkspaceNameDep,
    resolve_workspace,
    visible_models,
)
from lambdarag.api.routes import ollama
from lambdarag.api.routes.openai_api import (
    ChatCompletionRequest,
    OpenAIError,
    OpenAIRoute,
    answer_chat,
    model_object,
    read_chat,
    workspace_of,
)
from lambdarag.config import Settings
from lambdarag.documents import lifecycle as documents
from lambdarag.documents.lifecycle import NewDocument
from lambdarag.runtime.engine import Engine
from lambdarag.utils import new_track_id
from lambdarag.workspace.workspace import Workspace

_INVALID = re.compile(r"[^A-Za-z0-9_]")


async def _writer(request: Request, bearer: BearerDep) -> Principal:
    """The caller of a writing route: credentials checked even on a whitelisted path."""
    api_key = request.headers.get(API_KEY_HEADER)
    principal = authenticator(request).authorize(request, bearer, api_key, ignore_whitelist=True)
    request.state.principal = principal
    return principal


WriterDep = Annotated[Principal, Depends(_writer)]
chat_router = APIRouter(tags=["openwebui"], route_class=OpenAIRoute)
router = APIRouter(tags=["openwebui"])


# ------------------------------------------------------------------------ models, chat


@chat_router.get("/api/models", summary="The knowledge bases as models (Open WebUI)")
async def models(engine: EngineDep, settings: SettingsDep, default: WorkspaceNameDep,
                 caller: PrincipalDep) -> dict[str, Any]:
    """Open WebUI's model list: ``{"data": [{"id", "name", ...}]}``, one per knowledge base."""
    found = visible_models(engine, settings, default, caller)
    return {"data": [{**model_object(m.name), "name": m.name} for m in found]}


class FileRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["file", "collection"]
    id: str = Field(min_length=1, max_length=256)


class OpenWebUIChatRequest(ChatCompletionRequest):
    files: list[FileRef] = Field(default_factory=list, description=(
        'Answer from a knowledge collection ({"type": "collection", "id": <knowledge id>}) or '
        'from files ({"type": "file", "id": <file id>}).'))


@chat_router.post("/api/chat/completions", summary="Chat, optionally about files (Open WebUI)")
async def chat_completions(request: Request, engine: EngineDep, settings: SettingsDep,
                           default: WorkspaceNameDep, caller: PrincipalDep) -> Any:
    """``/v1/chat/completions`` with Open WebUI's ``files``.

    A ``collection`` answers from that knowledge collection (workspace); ``file`` entries
    answer from those documents only. Without ``files``, ``model`` picks the knowledge base
    as on ``/v1/chat/completions``.
    """
    body, plan = await read_chat(request, settings, OpenWebUIChatRequest)
    collections = [f.id for f in body.files if f.type == "collection"]
    files = [f.id for f in body.files if f.type == "file"]
    if len(collections) > 1 or (collections and files):
        raise OpenAIError(400, "Send one collection, or files of one collection: a chat "
                               "answers from one knowledge base.", param="files")
    if files:
        ws = await _home_of(engine, settings, default, caller, files[0])
        if ws is None:
            raise OpenAIError(404, f"File {files[0]!r} not found: POST /api/v1/files/ "
                                   "answers the id of an uploaded file.", param="files")
        return await answer_chat(body, plan, ws, doc_ids=tuple(files))
    if collections:
        name = _collection(collections[0], settings, caller)
    else:
        name = workspace_of(body.model, engine, settings, default, caller)
    return await answer_chat(body, plan, await engine.workspace(name))


# ------------------------------------------------------------------ files, knowledge


def _collection(knowledge_id: str, settings: Settings, caller: Principal) -> str:
    """The workspace a knowledge id names: 400 for an invalid one, 403 when not allowed."""
    return resolve_workspace(knowledge_id, settings, caller) if knowledge_id else ""


async def _home_of(engine: Engine, settings: Settings, default: str, caller: Principal,
                   file_id: str) -> Workspace | None:
    """The workspace holding document ``file_id``: the request's, else any the caller may use."""
    for name in dict.fromkeys([default, *engine.workspace_names()]):
        if caller.allows(name):
            ws = await engine.workspace(name)
            if await ws.stores.doc_status.get(file_id) is not None:
                return ws
    return None


def _file(record: dict[str, Any], workspace: str) -> dict[str, Any]:
    """A document as Open WebUI's file object."""
    name = record.get("file_path") or ""
    stamp = int(time.time())
    return {"id": record["id"], "user_id": "", "hash": record.get("content_hash") or None,
            "filename": name, "data": {"status": record.get("status")},
            "meta": {"name": name, "collection_name": workspace,
                     "size": record.get("content_length")},
            "created_at": stamp, "updated_at": stamp}


def _knowledge(workspace: str, description: str = "",
               files: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    stamp = int(time.time())
    found: dict[str, Any] = {"id": workspace, "user_id": "", "name": workspace,
                             "description": description, "data": None, "meta": None,
                             "access_control": None, "created_at": stamp, "updated_at": stamp}
    if files is not None:
        found["files"] = files
    return found


async def _pieces(file: UploadFile) -> AsyncIterator[bytes]:
    while piece := await file.read(documents.PIECE):
        yield piece


async def _accept(engine: Engine, settings: Settings, ws: Workspace, name: str | None,
                  pieces: AsyncIterator[bytes], chunking: dict[str, Any] | None = None) -> str:
    """Store and enqueue a file as /documents/upload does; its document id. ``chunking``
    (``process_options``, ``chunk_options``) replaces what the file's name says."""
    folder = documents.input_folder(settings.input_dir, ws.name)
    doc = await documents.store_file(ws, folder, name, pieces, settings.max_upload_size or 0)
    doc = replace(doc, **(chunking or {}))
    doc_ids = await engine.inputs.accept_upload(ws, doc, new_track_id("upload"))
    if not doc_ids:
        raise HTTPException(409, f"'{doc.file_path}' is already stored in this knowledge base")
    await engine.runner.submit(ws.name, doc_ids)
    return doc_ids[0]


@router.post("/api/v1/files/", summary="Upload a file (Open WebUI)")
async def upload_file(file: Annotated[UploadFile, File(description="The file, with its name.")],
                      engine: EngineDep, settings: SettingsDep, default: WorkspaceNameDep,
                      caller: WriterDep) -> dict[str, Any]:
    """Store the file in the request's workspace and index it in the background; the
    answer is Open WebUI's file object, whose ``id`` the knowledge and chat calls take."""
    ws = await engine.workspace(default)
    doc_id = await _accept(engine, settings, ws, file.filename, _pieces(file))
    record = await ws.stores.doc_status.get(doc_id)
    return _file(dict(record or {"id": doc_id, "file_path": file.filename}), ws.name)


class KnowledgeForm(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    description: str = ""


@router.post("/api/v1/knowledge/create", summary="Create a knowledge collection (Open WebUI)")
async def create_knowledge(form: KnowledgeForm, engine: EngineDep, settings: SettingsDep,
                           caller: WriterDep) -> dict[str, Any]:
    """A workspace named after ``name`` (characters other than letters, digits and ``_``
    become ``_``); its name is the collection's ``id``."""
    name = _collection(_INVALID.sub("_", form.name.strip()), settings, caller)
    await engine.workspace(name)
    return _knowledge(name, form.description)


@router.get("/api/v1/knowledge/", summary="The knowledge collections (Open WebUI)")
async def list_knowledge(engine: EngineDep, caller: WriterDep) -> list[dict[str, Any]]:
    return [_knowledge(name) for name in engine.workspace_names() if name and caller.allows(name)]


class FileIdForm(BaseModel):
    file_id: str = Field(min_length=1, max_length=256)


@router.post("/api/v1/knowledge/{knowledge_id}/file/add",
             summary="Add a file to a knowledge collection (Open WebUI)")
async def add_file(knowledge_id: str, form: FileIdForm, engine: EngineDep,
                   settings: SettingsDep, default: WorkspaceNameDep,
                   caller: WriterDep) -> dict[str, Any]:
    """Index the uploaded file ``file_id`` in the collection, and answer the collection
    with the file once its document is processed (400 with the reason if it failed), or
    when ``LAMBDARAG_FILE_ADD_WAIT`` is up, with the file still pending or processing."""
    target = await engine.workspace(_collection(knowledge_id, settings, caller))
    if await target.stores.doc_status.get(form.file_id) is None:
        home = await _home_of(engine, settings, default, caller, form.file_id)
        if home is None:
            raise HTTPException(404, f"File {form.file_id!r} not found: POST /api/v1/files/ "
                                     "answers the id of an uploaded file.")
        await _copy(engine, settings, home, target, form.file_id)
    record = await _indexed(target, form.file_id, settings.lambdarag_file_add_wait)
    if record.get("status") == "failed":
        raise HTTPException(400, f"'{record.get('file_path')}' could not be indexed: "
                                 f"{record.get('error_msg')}")
    return _knowledge(target.name, files=[_file(record, target.name)])


async def _copy(engine: Engine, settings: Settings, home: Workspace, target: Workspace,
                doc_id: str) -> None:
    """Index document ``doc_id`` of ``home`` in ``target`` too: its source file when it is
    still stored (so pages and sheets survive), else its parsed text."""
    stored = await home.stores.full_docs.get_by_id(doc_id) or {}
    name = str(stored.get("file_path") or "")
    source = stored.get("source_file")
    # the copy is chunked as the original was
    chunking = {key: stored[key] for key in ("process_options", "chunk_options") if stored.get(key)}
    if source and await asyncio.to_thread(Path(source).is_file):
        await _accept(engine, settings, target, name,
                      _bytes(asyncio.to_thread(Path(source).read_bytes)), chunking)
    elif source and not stored.get("content"):
        await _accept(engine, settings, target, name, _bytes(engine.inputs.read(source)), chunking)
    else:
        copy = NewDocument(name, str(stored.get("content") or ""), **chunking)
        result = await documents.enqueue(target, [copy], new_track_id("insert"))
        await engine.runner.submit(target.name, result.doc_ids)


async def _bytes(read: Awaitable[bytes]) -> AsyncIterator[bytes]:
    yield await read


async def _indexed(ws: Workspace, doc_id: str, wait: float) -> dict[str, Any]:
    """The document's record once processed or failed, or after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        record = dict(await ws.stores.doc_status.get(doc_id) or {"id": doc_id})
        if record.get("status") in ("processed", "failed") or time.monotonic() > deadline:
            return record
        await asyncio.sleep(0.2)


@router.get("/api/v1/knowledge/{knowledge_id}", summary="One knowledge collection (Open WebUI)")
async def get_knowledge(knowledge_id: str, engine: EngineDep, settings: SettingsDep,
                        caller: WriterDep) -> dict[str, Any]:
    """The collection with its files (every document of the workspace)."""
    name = _collection(knowledge_id, settings, caller)
    ws = await engine.workspace(name)
    owners = await documents.sources_by_key(ws)
    return _knowledge(name, files=[_file(dict(r), name) for rs in owners.values() for r in rs])


# ---------------------------------------------------------------------- Ollama proxy

router.include_router(chat_router)
router.include_router(ollama.router, prefix="/ollama")
