"""StepFunctionsRunner: indexes each document in its own state machine execution.

It replaces the in-process LocalRunner when LAMBDARAG_STATE_MACHINE_ARN is set. The
execution name is derived from the workspace, the document id and the moment its
PENDING record was written, so the API upload and the S3 event of the same file (or
an event delivered twice) start one execution; the second start is refused by Step
Functions with ExecutionAlreadyExists, which is the point. A document queued again
later (reprocess_failed) has a new PENDING record and gets a new execution.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from lambdarag.serverless.clients import client
from lambdarag.utils import mdhash
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)

NAME_LIMIT = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]


def execution_name(workspace: str, doc_id: str, pending_since: str) -> str:
    """``<doc id>-<workspace hash>-<record hash>``: stable for one PENDING record."""
    name = f"{doc_id}-{mdhash(workspace)[:8]}-{mdhash(pending_since)[:8]}"
    return name[-NAME_LIMIT:]


class StepFunctionsRunner:
    """The runner interface of LocalRunner, backed by Step Functions executions."""

    def __init__(self, open_workspace: Callable[[str], Awaitable[Workspace]], arn: str) -> None:
        self._open = open_workspace
        self.arn = arn

    def start(self) -> None:
        """Nothing runs in this process."""

    async def stop(self) -> None:
        """Nothing runs in this process."""

    async def resume(self, workspace: str) -> int:
        """Executions survive this process; Step Functions retries and catches failures."""
        return 0

    async def wait_idle(self) -> None:
        """Executions are not awaited here; follow them with /documents/pipeline_status."""

    def is_busy(self, workspace: str) -> bool:
        return False  # the shared pipeline record knows (Engine.pipeline_busy)

    async def submit(self, workspace: str, doc_ids: list[str]) -> list[str]:
        """Start one execution per document; returns the names of those started now."""
        if not doc_ids:
            return []
        ws = await self._open(workspace)
        records = await ws.stores.doc_status.get_many(doc_ids)
        started: list[str] = []
        for doc_id, record in zip(doc_ids, records, strict=True):
            if record is None:
                continue
            name = execution_name(workspace, doc_id, record.get("updated_at") or "")
            if await self._start(name, {"workspace": workspace, "doc_id": doc_id}):
                started.append(name)
        if started:
            # Progress is counted by the executions' own steps (serverless.steps), once per
            # document: a start here may be a running execution Step Functions handed back.
            await ws.change_pipeline(
                lambda status: status.log(f"Queued {len(started)} document(s) for indexing")
            )
        return started

    async def _start(self, name: str, payload: dict[str, str]) -> bool:
        sfn = client("stepfunctions")

        def start() -> bool:
            try:
                sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
            except sfn.exceptions.ExecutionAlreadyExists:
                logger.info("execution %s already exists: nothing new to start", name)
                return False
            return True

        return await asyncio.to_thread(start)
