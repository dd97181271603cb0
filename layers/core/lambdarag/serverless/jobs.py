"""Deletes as background jobs of their own Lambda invocation (serverless runtime).

Locally ``DELETE /documents/delete_document`` runs in the server's background. Behind
API Gateway the API Lambda must answer within 29-30 s and Mangum finishes background
tasks before it answers, while rebuilding what a large document touched can take
minutes. With LAMBDARAG_DELETE_FUNCTION set, the API instead invokes that function (the
drop-folder trigger, 15 minutes) asynchronously with a ``Delete Documents`` event; Lambda
retries a failed invocation twice, and deleting is idempotent.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from lambdarag.errors import LambdaRAGError
from lambdarag.serverless.clients import client
from lambdarag.utils import InvalidWorkspaceName, check_workspace_name

SOURCE = "lambdarag"
DELETE_DOCUMENTS = "Delete Documents"
IDS_PER_EVENT = 1000  # ~45 KB of ids: far below the 256 KB asynchronous payload limit


class JobEventError(LambdaRAGError, ValueError):
    """A job event without the fields a delete needs."""


@dataclass(frozen=True)
class DeleteJob:
    workspace: str
    doc_ids: list[str]
    delete_file: bool = False
    delete_llm_cache: bool = False

    def as_event(self) -> dict[str, Any]:
        return {"source": SOURCE, "detail-type": DELETE_DOCUMENTS,
                "detail": {"workspace": self.workspace, "doc_ids": self.doc_ids,
                           "delete_file": self.delete_file,
                           "delete_llm_cache": self.delete_llm_cache}}

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> DeleteJob:
        if event.get("source") != SOURCE or event.get("detail-type") != DELETE_DOCUMENTS:
            raise JobEventError(f"not a {SOURCE!r} {DELETE_DOCUMENTS!r} event")
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise JobEventError("the event has no detail object")
        workspace, ids = detail.get("workspace", ""), detail.get("doc_ids")
        if not isinstance(workspace, str):
            raise JobEventError("detail.workspace must be a string")
        if workspace:
            try:
                check_workspace_name(workspace)
            except InvalidWorkspaceName as exc:
                raise JobEventError(str(exc)) from None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise JobEventError("detail.doc_ids must be a non-empty list of document ids")
        flags = {name: detail.get(name, False) for name in ("delete_file", "delete_llm_cache")}
        if not all(isinstance(value, bool) for value in flags.values()):
            raise JobEventError("detail.delete_file and detail.delete_llm_cache must be booleans")
        return cls(workspace, ids, **flags)


async def queue_delete(function: str, job: DeleteJob) -> int:
    """Invoke ``function`` asynchronously, one event per ``IDS_PER_EVENT`` ids; returns how many."""
    lam = client("lambda")
    parts = [job.doc_ids[i : i + IDS_PER_EVENT] for i in range(0, len(job.doc_ids), IDS_PER_EVENT)]
    for ids in parts:
        event = DeleteJob(job.workspace, ids, job.delete_file, job.delete_llm_cache).as_event()
        await asyncio.to_thread(lam.invoke, FunctionName=function, InvocationType="Event",
                                Payload=json.dumps(event).encode("utf-8"))
    return len(parts)
