"""The ``/documents/pipeline_status`` record kept in the KV store for every process.

Locally one process indexes, and the in-process :class:`PipelineStatus` is the truth.
On AWS the API Lambda starts executions, step Lambdas index and log, and any API
instance must answer ``pipeline_status`` and ``cancel_pipeline``: the record then lives
in the ``pipeline_status`` KV namespace (DynamoDB) and every change is a read, change,
compare-and-set loop, so concurrent steps never lose each other's counts or messages.
The stored history keeps the last ``STORED_HISTORY`` messages (items stay far below
DynamoDB's 400 KB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from lambdarag.storage.base import KVStorage, StorageError, VersionConflictError
from lambdarag.workspace.workspace import PipelineStatus

STATUS_NAMESPACE = "pipeline_status"
STATUS_KEY = "status"
STORED_HISTORY = 300
MAX_ATTEMPTS = 50
_FIELDS = ("busy", "job_name", "job_start", "docs", "batchs", "cur_batch",
            "latest_message", "cancellation_requested", "total_messages", "active")


def to_record(status: PipelineStatus) -> dict[str, Any]:
    history = list(status.history_messages)[-STORED_HISTORY:]
    return {**{name: getattr(status, name) for name in _FIELDS}, "history": history}


def load_into(status: PipelineStatus, record: dict[str, Any] | None) -> None:
    """Overwrite ``status`` with the stored record (a fresh status when there is none)."""
    fresh = PipelineStatus()
    for name in _FIELDS:
        setattr(status, name, (record or {}).get(name, getattr(fresh, name)))
    status.history_messages.clear()
    status.history_messages.extend((record or {}).get("history", []))


class SharedPipelineStatus:
    """Reads and changes the stored record of one workspace."""

    def __init__(self, kv: KVStorage) -> None:
        self._kv = kv

    async def refresh(self, status: PipelineStatus) -> None:
        load_into(status, await self._kv.get_by_id(STATUS_KEY))

    async def change(
        self, status: PipelineStatus, edit: Callable[[PipelineStatus], None]
    ) -> None:
        """Apply ``edit`` to the stored record atomically; ``status`` ends up equal to it."""

        async def attempt() -> None:
            [(record, version)] = await self._kv.get_versioned([STATUS_KEY])
            load_into(status, record)
            edit(status)
            await self._kv.put_if_version(STATUS_KEY, to_record(status), version)

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(VersionConflictError),
            wait=wait_random_exponential(multiplier=0.02, max=1.0),  # full jitter
            stop=stop_after_attempt(MAX_ATTEMPTS),
        )
        try:
            await retrying(attempt)
        except RetryError:
            raise StorageError(
                "the pipeline status kept changing under this writer; retry later"
            ) from None
