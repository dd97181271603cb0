"""LocalRunner: runs the pipeline steps in-process, several documents at once.

Up to MAX_PARALLEL_INSERT documents are prepared and extracted at once (their extract
batches concurrently too). A document whose extraction is done leaves its place to the
next one and joins the workspace's next *merge round*: one round at a time per workspace
merges the entities, then the relations, of every document that finished extracting since
the last round began (:func:`lambdarag.pipeline.steps.merge_documents`), then finalizes them. So
an entity named by ten documents extracted meanwhile is merged and summarised once, not ten
times, and extraction never waits for merges: the LLM's MAX_ASYNC slots stay busy.

A round that fails is retried document by document, so that only the documents whose
merge fails end FAILED. A document interrupted by a crash is picked up again at start-up
(``resume``): its finished steps are cheap to repeat because extraction results are cached
and merges are idempotent. Step Functions runs one document per execution
(:func:`run_document`): the same steps, merging per document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from lambdarag.indexing.chunking import ChunkingError
from lambdarag.indexing.parse import ParseError
from lambdarag.llm.base import LLMError
from lambdarag.pipeline import steps as pipeline
from lambdarag.storage.base import StorageError
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)

INTERRUPTED = ("pending", "parsing", "analyzing", "processing")
_USER_FACING = (pipeline.PipelineError, LLMError, ParseError, ChunkingError, StorageError)


class LocalRunner:
    """An in-process queue of (workspace, doc_id) drained by MAX_PARALLEL_INSERT workers."""

    def __init__(
        self, open_workspace: Callable[[str], Awaitable[Workspace]], parallel: int
    ) -> None:
        self._open = open_workspace
        self._parallel = parallel
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._queued: set[tuple[str, str]] = set()
        self._active: dict[str, int] = {}
        self._merging: dict[str, list[str]] = {}  # extracted documents waiting for a round
        self._rounds: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        if not self._workers:
            self._workers = [asyncio.create_task(self._work()) for _ in range(self._parallel)]

    async def stop(self) -> None:
        tasks = [*self._workers, *self._rounds.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers = []

    async def submit(self, workspace: str, doc_ids: list[str]) -> None:
        """Queue documents (already stored as PENDING) for indexing."""
        ws = await self._open(workspace)
        fresh = [d for d in doc_ids if (workspace, d) not in self._queued]
        if not fresh:
            return
        # No await between reading and updating _active: concurrent submits must not
        # each believe they start the job.
        starting = not self._active.get(workspace)
        self._active[workspace] = self._active.get(workspace, 0) + len(fresh)
        if starting:
            ws.pipeline.start_job(f"...[{len(fresh)} files]", len(fresh))
        else:
            ws.pipeline.add_documents(len(fresh))
        self._idle.clear()
        for doc_id in fresh:
            self._queued.add((workspace, doc_id))
            self._queue.put_nowait((workspace, doc_id))
        self.start()
        if starting:
            first = (await ws.stores.doc_status.get(fresh[0]) or {}).get("file_path", "")
            ws.pipeline.rename_job(f"{first[:20]}...[{len(fresh)} files]")

    async def resume(self, workspace: str) -> int:
        """Queue every document a previous run left unfinished; returns how many."""
        ws = await self._open(workspace)
        records = await ws.stores.doc_status.by_status(INTERRUPTED)
        await self.submit(workspace, [r["id"] for r in records])
        return len(records)

    async def wait_idle(self) -> None:
        """Return once every queued document has finished (processed or failed)."""
        await self._idle.wait()

    def is_busy(self, workspace: str) -> bool:
        return bool(self._active.get(workspace))

    async def _work(self) -> None:
        while True:
            workspace, doc_id = await self._queue.get()
            ws = await self._open(workspace)
            extracted = False
            try:
                extracted = await _extract_document(ws, {"workspace": workspace, "doc_id": doc_id})
            except Exception:  # noqa: BLE001 - one document must not stop the runner
                logger.exception("unexpected failure indexing %s", doc_id)
            finally:
                if extracted:
                    self._join_round(ws, doc_id)
                else:
                    self._done(ws, workspace, doc_id)
                self._queue.task_done()

    def _join_round(self, ws: Workspace, doc_id: str) -> None:
        """Queue an extracted document for the workspace's next merge round."""
        self._merging.setdefault(ws.name, []).append(doc_id)
        if ws.name not in self._rounds:
            self._rounds[ws.name] = asyncio.create_task(self._merge_rounds(ws))

    async def _merge_rounds(self, ws: Workspace) -> None:
        """Merge rounds of ``ws`` while documents wait for one (one round at a time)."""
        try:
            while self._merging.get(ws.name):
                batch = self._merging.pop(ws.name)
                try:
                    await merge_round(ws, batch)
                except Exception:  # noqa: BLE001 - merge_round fails documents itself
                    logger.exception("unexpected failure merging %d documents", len(batch))
                finally:
                    for doc_id in batch:
                        self._done(ws, ws.name, doc_id)
        finally:
            del self._rounds[ws.name]

    def _done(self, ws: Workspace, workspace: str, doc_id: str) -> None:
        self._queued.discard((workspace, doc_id))
        self._finish(ws, workspace)

    def _finish(self, ws: Workspace, workspace: str) -> None:
        ws.pipeline.document_done()
        self._active[workspace] -= 1
        if not self._active[workspace]:
            del self._active[workspace]
            ws.pipeline.end_job()
        if not self._active:
            self._idle.set()


async def _extract_document(ws: Workspace, payload: dict[str, Any]) -> bool:
    """Prepare and extract one document; False when it failed (it is then FAILED)."""
    try:
        plan = await pipeline.prepare(ws, payload)
        await _all(pipeline.extract(ws, b) for b in plan["extract_batches"])
        return True
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends as FAILED with its reason
        await _fail(ws, payload["doc_id"], exc)
        return False


async def merge_round(ws: Workspace, doc_ids: list[str]) -> None:
    """Merge extracted documents together, then finalize each; failures end FAILED.

    When the shared merge fails, each document is merged alone, so that only the ones
    whose own keys fail are marked FAILED (with their reason).
    """
    try:
        await pipeline.merge_documents(ws, doc_ids)
        merged = doc_ids
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - retried per document below
        if len(doc_ids) == 1 or isinstance(exc, pipeline.PipelineCancelled):
            for doc_id in doc_ids:
                await _fail(ws, doc_id, exc)
            return
        logger.warning("merging %d documents together failed (%s); merging each alone",
                       len(doc_ids), exc)
        merged = []
        for doc_id in doc_ids:
            try:
                await pipeline.merge_documents(ws, [doc_id])
                merged.append(doc_id)
            except Exception as alone:  # noqa: BLE001 - this document ends FAILED
                await _fail(ws, doc_id, alone)
    for doc_id in merged:
        try:
            await pipeline.finalize(ws, {"workspace": ws.name, "doc_id": doc_id})
        except Exception as exc:  # noqa: BLE001 - this document ends FAILED
            await _fail(ws, doc_id, exc)


async def _fail(ws: Workspace, doc_id: str, exc: Exception) -> dict[str, Any]:
    """Mark the document FAILED with the reason users see."""
    logger.warning("indexing %s failed: %s", doc_id, exc)
    return await pipeline.fail(ws, {"workspace": ws.name, "doc_id": doc_id, "error": _reason(exc)})


async def run_document(ws: Workspace, payload: dict[str, Any]) -> dict[str, Any]:
    """Run every step for one document, exactly as the state machine does."""
    try:
        plan = await pipeline.prepare(ws, payload)
        await _all(pipeline.extract(ws, b) for b in plan["extract_batches"])
        await _all(pipeline.merge(ws, s) for s in plan["merge_entities"])
        await _all(pipeline.merge(ws, s) for s in plan["merge_relations"])
        return await pipeline.finalize(ws, payload)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure ends as FAILED with its reason
        return await _fail(ws, payload["doc_id"], exc)


async def _all(steps: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Run steps concurrently; the first failure cancels the rest and is re-raised."""
    try:
        async with asyncio.TaskGroup() as group:
            for step in steps:
                group.create_task(step)
    except ExceptionGroup as group_error:
        raise group_error.exceptions[0] from None


def user_facing_error_names() -> frozenset[str]:
    """Class names of the errors whose message alone is a document's error_msg.

    For processes that only see an error's name, as a Step Functions Catch result gives it.
    """
    names: set[str] = set()
    todo: list[type] = list(_USER_FACING)
    while todo:
        cls = todo.pop()
        if cls.__name__ not in names:
            names.add(cls.__name__)
            todo.extend(cls.__subclasses__())
    return frozenset(names)


def _reason(exc: Exception) -> str:
    """The error_msg users see: our own errors speak for themselves; others carry their type."""
    text = str(exc) or exc.__class__.__name__
    return text if isinstance(exc, _USER_FACING) else f"{exc.__class__.__name__}: {text}"
