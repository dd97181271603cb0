"""One pipeline step in a Lambda, keeping the shared pipeline record up to date."""

from __future__ import annotations

from typing import Any

from lambdarag.pipeline import steps as pipeline
from lambdarag.workspace.pipeline_status import PipelineStatus
from lambdarag.workspace.workspace import Workspace

FINAL_STEPS = ("finalize", "fail")


async def run_step(ws: Workspace, step: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``step``; then add its log lines and the document's progress to the record.

    The record is read first, so a cancellation requested through any API instance
    reaches the step (``PipelineCancelled`` -> the state machine's Catch -> FAILED).
    Progress is keyed by document id (``active``), so retried steps and duplicate
    executions of one document count it once.
    """
    status = await ws.refresh_pipeline()
    before = status.total_messages
    result = await pipeline.STEPS[step](ws, payload)
    if ws.shared_status is not None:
        lines = status.messages_since(before)
        doc_id = payload["doc_id"]
        name = doc_id
        if step == "prepare":
            record = await ws.stores.doc_status.get(doc_id)
            name = str((record or {}).get("file_path") or doc_id)
        await ws.change_pipeline(lambda s: _record(s, step, doc_id, name, lines))
    return result


def _record(status: PipelineStatus, step: str, doc_id: str, name: str, lines: list[str]) -> None:
    if step == "prepare":
        status.join_execution(doc_id, name)
    for line in lines:
        status.log(line)
    if step in FINAL_STEPS:
        status.leave_execution(doc_id)
