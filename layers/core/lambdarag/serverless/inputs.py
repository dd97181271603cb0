"""The AWS runtime's document adapters: the S3 drop folder and deletes in their own Lambda."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdarag.documents import lifecycle
from lambdarag.documents.lifecycle import NewDocument
from lambdarag.documents.ports import (
    DeleteQueue,
    DeleteRequest,
    InputStore,
    InputStoreError,
)
from lambdarag.documents.scan import ScanJob, scan_listed
from lambdarag.indexing.parse import ParseError
from lambdarag.serverless import s3
from lambdarag.serverless.jobs import DeleteJob, queue_delete
from lambdarag.storage.base import StoreUnavailableError
from lambdarag.workspace.workspace import Workspace


async def read_source(source: str) -> bytes:
    """An ``s3://`` source's bytes; a missing object is a ParseError, anything else retryable."""
    try:
        return await s3.read_object(source)
    except Exception as exc:  # noqa: BLE001 - botocore's errors, sorted by their code
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "NoSuchBucket", "404"):
            raise ParseError(f"cannot read {source}: the object does not exist") from exc
        # Throttling, timeouts, a network blip: the step is retried (Step Functions).
        raise StoreUnavailableError(f"cannot read {source} now: {exc}") from exc


class DropFolderInputStore(InputStore):
    """``s3://<bucket>/<prefix>[<workspace>/]<file>``: the drop folder is the input folder."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix

    async def accept_upload(self, ws: Workspace, doc: NewDocument, track_id: str) -> list[str]:
        """The file goes to the drop folder, the same path a dropped file takes.

        The document is registered first with the object as its source, so the bucket's
        own event for this object finds it and starts nothing new (same execution name).
        """
        local = Path(doc.source_file or "")
        key = s3.object_key(self.prefix, ws.name, doc.file_path)
        source = s3.url(self.bucket, key)
        result = await lifecycle.enqueue(ws, [NewDocument(doc.file_path, source_file=source)],
                                         track_id)
        try:
            await s3.put_file(local, self.bucket, key)
        except Exception as exc:
            for doc_id in result.doc_ids:
                await lifecycle.delete_document(ws, doc_id)
            raise InputStoreError(f"Could not store the file in the input bucket: {exc}") from exc
        finally:
            local.unlink(missing_ok=True)
        return result.doc_ids

    async def scan(self, ws: Workspace, folder: Path, job: ScanJob) -> list[str]:
        files = await s3.drop_files(self.bucket, self.prefix, ws.name)
        return await scan_listed(ws, [(s3.url(self.bucket, key), name) for key, name in files],
                                 job)

    async def delete_source(self, source: str, folder: Path, file_path: str | None) -> None:
        if source.startswith("s3://"):
            await s3.delete_object(source)
        else:  # a text inserted through the API has no object
            await lifecycle.delete_input_file(folder, file_path)

    async def clear(self, workspace: str) -> int:
        return await s3.delete_drop_files(self.bucket, self.prefix, workspace)

    async def read(self, source: str) -> bytes:
        return await read_source(source)


class LambdaDeletes(DeleteQueue):
    """Each delete job is an asynchronous invocation of the trigger function (15 minutes)."""

    def __init__(self, function: str) -> None:
        self.function = function

    async def submit(
        self, ws: Workspace, request: DeleteRequest, folder: Path | None,
        background: Callable[..., Any],
    ) -> None:
        job = DeleteJob(request.workspace, list(request.doc_ids), request.delete_file,
                        request.delete_llm_cache)
        try:
            await queue_delete(self.function, job)
        except Exception as exc:  # botocore's errors: the job was not queued, nothing deleted
            raise InputStoreError(f"Could not queue the deletion job: {exc}") from exc
