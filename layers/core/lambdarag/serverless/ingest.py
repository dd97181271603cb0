"""The S3 drop folder: an object created is a document to index, an object deleted one to drop.

Both paths are idempotent, because EventBridge delivers at least once: a file already
registered from the same object is (re)submitted under the same execution name, which
starts nothing new; a delete of a document that is already gone does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdarag.documents import lifecycle as documents
from lambdarag.documents.lifecycle import InvalidSourceError, NewDocument
from lambdarag.indexing.parse import canonical_basename
from lambdarag.serverless import s3
from lambdarag.serverless.jobs import DeleteJob
from lambdarag.storage.base import DocStatusRecord
from lambdarag.utils import InvalidWorkspaceName, check_workspace_name, new_track_id
from lambdarag.workspace.workspace import Workspace

if TYPE_CHECKING:
    from lambdarag.runtime.engine import Engine  # the engine is built by runtime.aws

logger = logging.getLogger(__name__)


@dataclass
class IngestResult:
    action: str  # "queued" | "already_queued" | "skipped" | "deleted" | "not_found"
    workspace: str = ""
    file_path: str = ""
    doc_ids: list[str] | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")} | {
            "action": self.action}


def _locate(bucket: str, key: str, prefix: str) -> tuple[s3.DropKey | None, str]:
    drop = s3.parse_key(key, prefix)
    if drop is None:
        return None, f"{key} is not <prefix><file> or <prefix><workspace>/<file> (prefix {prefix!r})"
    if drop.workspace:
        try:
            check_workspace_name(drop.workspace)
        except InvalidWorkspaceName as exc:
            return None, str(exc)
    return drop, ""


async def object_created(engine: Engine, bucket: str, key: str, prefix: str) -> IngestResult:
    """Register ``s3://bucket/key`` as a PENDING document and start its execution."""
    drop, reason = _locate(bucket, key, prefix)
    if drop is None:
        return IngestResult("skipped", reason=reason)
    try:
        name = documents.checked_filename(drop.name)
    except InvalidSourceError as exc:
        return IngestResult("skipped", drop.workspace, drop.name, reason=str(exc))
    ws = await engine.workspace(drop.workspace)
    source = s3.url(bucket, key)
    mine = await _documents_from(ws, name, source)
    if mine:  # registered already (the API upload, or this event delivered before)
        pending = [r["id"] for r in mine if r.get("status") == "pending"]
        await engine.runner.submit(ws.name, pending)
        return IngestResult("already_queued", ws.name, name, pending)
    if await ws.stores.doc_status.by_file_path(name):
        return IngestResult("skipped", ws.name, name,
                            reason=f"the workspace already holds a document named {name}")
    result = await documents.enqueue(ws, [NewDocument(name, source_file=source)],
                                     new_track_id("s3"))
    await engine.runner.submit(ws.name, result.doc_ids)
    return IngestResult("queued", ws.name, name, result.doc_ids)


async def object_deleted(engine: Engine, bucket: str, key: str, prefix: str) -> IngestResult:
    """Delete the documents that came from ``s3://bucket/key`` (and rebuild what they touched)."""
    drop, reason = _locate(bucket, key, prefix)
    if drop is None:
        return IngestResult("skipped", reason=reason)
    ws = await engine.workspace(drop.workspace)
    name = canonical_basename(drop.name)
    mine = await _documents_from(ws, name, s3.url(bucket, key))
    for record in mine:
        await documents.delete_document(ws, record["id"])
    ids = [r["id"] for r in mine]
    return IngestResult("deleted" if ids else "not_found", ws.name, name, ids)


async def _documents_from(ws: Workspace, name: str, source: str) -> list[DocStatusRecord]:
    """The doc status records named ``name`` whose stored source is ``source``."""
    records = await ws.stores.doc_status.by_file_path(name)
    if not records:
        return []
    docs = await ws.stores.full_docs.get_by_ids([r["id"] for r in records])
    return [r for r, d in zip(records, docs, strict=True) if (d or {}).get("source_file") == source]


async def delete_job(engine: Engine, job: DeleteJob, input_dir: Path) -> IngestResult:
    """Run a ``Delete Documents`` job the API queued (serverless.jobs)."""
    ws = await engine.workspace(job.workspace)
    await ws.change_pipeline(lambda s: s.log(f"Deleting {len(job.doc_ids)} Documents"))
    deleted = await documents.delete_documents(
        ws, job.doc_ids, delete_llm_cache=job.delete_llm_cache,
        files_in=input_dir if job.delete_file else None,
    )
    summary = f"Deletion finished: {deleted} of {len(job.doc_ids)} documents deleted"
    await ws.change_pipeline(lambda s: s.log(summary))
    return IngestResult("deleted" if deleted else "not_found", ws.name, doc_ids=job.doc_ids)
