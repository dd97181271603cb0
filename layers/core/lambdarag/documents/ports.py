"""The ports of document intake that differ between runtimes.

- :class:`InputStore`: where a workspace's files are kept and found (INPUT_DIR locally,
  the S3 drop folder on AWS): uploads, scans, the file of a deleted document, clearing,
  and reading a stored source back for parsing.
- :class:`DeleteQueue`: where a delete job runs (the server's background locally, an
  asynchronous invocation of its own Lambda on AWS, which has 15 minutes where the API
  has 30 seconds).

The local adapters are in :mod:`lambdarag.documents.local`, the AWS ones in
``lambdarag.serverless.inputs``; the composition roots in ``lambdarag.runtime`` choose.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdarag.errors import LambdaRAGError

if TYPE_CHECKING:
    from lambdarag.documents.lifecycle import NewDocument
    from lambdarag.documents.scan import ScanJob
    from lambdarag.workspace.workspace import Workspace


class InputStoreError(LambdaRAGError):
    """The input store refused or failed an operation; the message names it."""

    http_status = 502


class InputStore(ABC):
    """A workspace's input files."""

    @abstractmethod
    async def accept_upload(self, ws: Workspace, doc: NewDocument, track_id: str) -> list[str]:
        """Keep an upload (staged as ``doc.source_file``); returns the doc ids to index now."""

    @abstractmethod
    async def scan(self, ws: Workspace, folder: Path, job: ScanJob) -> list[str]:
        """Register the files no document owns yet; returns the new doc ids."""

    @abstractmethod
    async def delete_source(self, source: str, folder: Path, file_path: str | None) -> None:
        """Delete the file a deleted document came from."""

    @abstractmethod
    async def clear(self, workspace: str) -> int:
        """Delete the workspace's files beyond its INPUT_DIR folder; returns how many."""

    @abstractmethod
    async def read(self, source: str) -> bytes:
        """The bytes of a stored source that is not a local path (``ParseError`` if gone)."""


@dataclass(frozen=True)
class DeleteRequest:
    """``DELETE /documents/delete_document``: what to delete and how."""

    workspace: str
    doc_ids: list[str]
    delete_file: bool
    delete_llm_cache: bool


class DeleteQueue(ABC):
    """Runs delete jobs."""

    @abstractmethod
    async def submit(
        self, ws: Workspace, request: DeleteRequest, folder: Path | None,
        background: Callable[..., Any],
    ) -> None:
        """Start ``request``; ``background(fn, *args, **kwargs)`` runs work after the answer.

        ``folder`` is the workspace's INPUT_DIR folder when the files go too, else None.
        """
