"""The local runtime's document adapters: the INPUT_DIR folder and background deletes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdarag.documents import lifecycle
from lambdarag.documents.lifecycle import NewDocument
from lambdarag.documents.ports import DeleteQueue, DeleteRequest, InputStore
from lambdarag.documents.scan import ScanJob, scan_input_dir
from lambdarag.indexing.parse import ParseError
from lambdarag.workspace.workspace import Workspace


class FolderInputStore(InputStore):
    """Files under INPUT_DIR (``INPUT_DIR/<workspace>`` for a named workspace)."""

    async def accept_upload(self, ws: Workspace, doc: NewDocument, track_id: str) -> list[str]:
        return (await lifecycle.enqueue(ws, [doc], track_id)).doc_ids

    async def scan(self, ws: Workspace, folder: Path, job: ScanJob) -> list[str]:
        return await scan_input_dir(ws, folder, job)

    async def delete_source(self, source: str, folder: Path, file_path: str | None) -> None:
        await lifecycle.delete_input_file(folder, file_path)

    async def clear(self, workspace: str) -> int:
        return 0  # clearing the documents already removed the folder's files

    async def read(self, source: str) -> bytes:
        raise ParseError(f"cannot read {source}: only local files are kept in this runtime")


class BackgroundDeletes(DeleteQueue):
    """Deletes run in the server's background, after the answer."""

    async def submit(
        self, ws: Workspace, request: DeleteRequest, folder: Path | None,
        background: Callable[..., Any],
    ) -> None:
        background(lifecycle.delete_documents, ws, request.doc_ids,
                   delete_llm_cache=request.delete_llm_cache,
                   files_in=folder)
