"""The pipeline status of a workspace: LightRAG's ``pipeline_status`` record, owned here.

This module is the only one that changes the record. It holds

- its shape, :class:`PipelineStatus` (busy flag, job, counts, history, cancellation);
- its transitions, as methods: a job starts (:meth:`~PipelineStatus.start_job`), grows
  (:meth:`~PipelineStatus.add_documents`), counts its documents
  (:meth:`~PipelineStatus.document_done`) and ends (:meth:`~PipelineStatus.end_job`); a
  cancellation is requested (:meth:`~PipelineStatus.request_cancel`); lines are logged;
- :class:`StatusJob`, the rules by which a delete or a clear shares the record with
  indexing;
- its persistence, :class:`SharedPipelineStatus`, for the runtimes where several
  processes index one workspace.

Invariants:

- ``busy`` is true exactly while a job runs; ``job_name`` and ``job_start`` name that job
  (after it ends they name the last one); ``cur_batch <= batchs == docs``.
- Ending a job clears ``cancellation_requested``: a cancel reaches only the job it was
  asked of.
- The history keeps the last ``HISTORY_LIMIT`` lines in memory (``STORED_HISTORY`` in the
  store) and ``total_messages`` counts every line, so a reader sees what was cut.

Locally one process indexes, and the in-process record is the truth. On AWS the API
Lambda starts executions, step Lambdas index and log, and any API instance must answer
``pipeline_status`` and ``cancel_pipeline``: the record then lives in the
``pipeline_status`` KV namespace (DynamoDB) and every change is a read, change,
compare-and-set loop, so concurrent steps never lose each other's counts or messages.
The stored history keeps the last ``STORED_HISTORY`` messages (items stay far below
DynamoDB's 400 KB).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tenacity import RetryError

from lambdarag.retry import Backoff, retrying
from lambdarag.storage.base import KVStorage, StorageError, VersionConflictError

HISTORY_LIMIT = 5000
MESSAGE_LIMIT = 4096
STATUS_NAMESPACE = "pipeline_status"
STATUS_KEY = "status"
STORED_HISTORY = 300
MAX_ATTEMPTS = 50
CONFLICT_BACKOFF = Backoff(base=0.02, cap=1.0)  # concurrent steps: short waits, many tries
ALL_PROCESSED = "All documents processed"
_FIELDS = ("busy", "job_name", "job_start", "docs", "batchs", "cur_batch",
           "latest_message", "cancellation_requested", "total_messages", "active")


@dataclass
class PipelineStatus:
    """The ``/documents/pipeline_status`` record of one workspace."""

    busy: bool = False
    job_name: str = "-"
    job_start: str | None = None
    docs: int = 0
    batchs: int = 0
    cur_batch: int = 0
    latest_message: str = ""
    cancellation_requested: bool = False
    history_messages: deque[str] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    total_messages: int = 0
    # Serverless only: ids of the documents whose executions are between prepare and
    # finalize/fail; the job is busy while any is.
    active: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ transitions

    def log(self, message: str) -> None:
        message = message[:MESSAGE_LIMIT]
        self.latest_message = message
        self.history_messages.append(message)
        self.total_messages += 1

    def messages_since(self, total: int) -> list[str]:
        """The lines logged since ``total_messages`` was ``total``."""
        logged = self.total_messages - total
        return list(self.history_messages)[-logged:] if logged > 0 else []

    def clear_history(self) -> None:
        self.history_messages.clear()
        self.total_messages = 0

    def start_job(self, name: str, docs: int) -> None:
        self.busy = True
        self.job_name = name
        self.job_start = datetime.now(UTC).isoformat()
        self.docs = docs
        self.batchs = docs
        self.cur_batch = 0
        self.cancellation_requested = False

    def rename_job(self, name: str) -> None:
        self.job_name = name

    def add_documents(self, count: int) -> None:
        """More documents join the running job."""
        self.docs += count
        self.batchs += count

    def document_done(self) -> None:
        self.cur_batch += 1

    def end_job(self, message: str = ALL_PROCESSED) -> None:
        self.busy = False
        self.cancellation_requested = False
        self.log(message)

    def request_cancel(self) -> None:
        self.cancellation_requested = True
        self.log("Cancellation requested")

    def join_execution(self, doc_id: str, name: str) -> None:
        """A document's execution prepared it (serverless): the job starts or grows by one."""
        if doc_id in self.active:
            return
        if self.active:
            self.add_documents(1)
        else:
            self.start_job(f"{name[:20]}...[serverless]", 1)
        self.active.append(doc_id)

    def leave_execution(self, doc_id: str) -> None:
        """A document's execution finalized or failed it; the last one ends the job."""
        if doc_id not in self.active:
            return
        self.active.remove(doc_id)
        self.document_done()
        if not self.active:
            self.end_job()

    # ------------------------------------------------------------------ wire and store

    def as_dict(self, limit: int = 1000) -> dict[str, Any]:
        history = list(self.history_messages)[-limit:]
        if self.total_messages > len(history):
            history.insert(0, f"[Truncated history messages: {len(history)}/{self.total_messages}]")
        return {
            "autoscanned": False,
            "busy": self.busy,
            "job_name": self.job_name,
            "job_start": self.job_start,
            "docs": self.docs,
            "batchs": self.batchs,
            "cur_batch": self.cur_batch,
            "request_pending": False,
            "latest_message": self.latest_message,
            "history_messages": history,
            "cancellation_requested": self.cancellation_requested,
            "scanning": False,
            "destructive_busy": False,
            "pending_enqueues": 0,
            "update_status": {},
        }

    def to_record(self) -> dict[str, Any]:
        history = list(self.history_messages)[-STORED_HISTORY:]
        return {**{name: getattr(self, name) for name in _FIELDS}, "history": history}

    def load_record(self, record: dict[str, Any] | None) -> None:
        """Overwrite this status with a stored record (a fresh status when there is none)."""
        fresh = PipelineStatus()
        for name in _FIELDS:
            setattr(self, name, (record or {}).get(name, getattr(fresh, name)))
        self.history_messages.clear()
        self.history_messages.extend((record or {}).get("history", []))




class StatusJob:
    """A delete or clear shown in ``pipeline_status`` while it runs.

    The record is shared with the runner, which starts a job whenever an indexing run
    starts and ends it when the run ends. Deletes may run alongside indexing, but the
    record names one job, so a client polling it must see a busy flag and a job_name that
    belong together. Hence a job takes the record only while it is free (busy is false);
    it never overwrites a running indexing job (its lines still reach the history); it
    takes the record back between documents once an indexing run that started meanwhile
    has ended; and at the end it sets busy=false only if it still holds the record,
    leaving job_name as the last job's name, as the runner does.
    """

    def __init__(self, status: PipelineStatus, name: str, total: int) -> None:
        self._status = status
        self.name = name
        self.total = total
        self.done = 0
        self._started: str | None = None

    @property
    def holds(self) -> bool:
        status = self._status
        return status.busy and status.job_name == self.name and status.job_start == self._started

    @property
    def cancelled(self) -> bool:
        """``/documents/cancel_pipeline`` was called while this job held the record."""
        return self.holds and self._status.cancellation_requested

    def claim(self) -> None:
        if not self._status.busy:
            self._status.start_job(self.name, self.total)
            self._status.cur_batch = self.done
            self._started = self._status.job_start

    def log(self, message: str) -> None:
        self._status.log(message)

    def step(self) -> None:
        """One item done: count it, and take the record back if it became free."""
        self.done += 1
        if self.holds:
            self._status.cur_batch = self.done
        self.claim()

    def finish(self, message: str) -> None:
        if self.holds:
            self._status.busy = False
            self._status.cancellation_requested = False
        self._status.log(message)


class SharedPipelineStatus:
    """Reads and changes the stored record of one workspace."""

    def __init__(self, kv: KVStorage) -> None:
        self._kv = kv

    async def refresh(self, status: PipelineStatus) -> None:
        status.load_record(await self._kv.get_by_id(STATUS_KEY))

    async def change(
        self, status: PipelineStatus, edit: Callable[[PipelineStatus], None]
    ) -> None:
        """Apply ``edit`` to the stored record atomically; ``status`` ends up equal to it."""

        async def attempt() -> None:
            [(record, version)] = await self._kv.get_versioned([STATUS_KEY])
            status.load_record(record)
            edit(status)
            await self._kv.put_if_version(STATUS_KEY, status.to_record(), version)

        policy = retrying(retry_on=VersionConflictError, attempts=MAX_ATTEMPTS,
                          backoff=CONFLICT_BACKOFF, reraise=False)
        try:
            await policy(attempt)
        except RetryError:
            raise StorageError(
                "the pipeline status kept changing under this writer; retry later"
            ) from None
