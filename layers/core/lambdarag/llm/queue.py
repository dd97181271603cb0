"""One queue in front of the embedding binding: concurrent callers fill shared requests.

Indexing asks for embeddings in many small pieces (a document's chunks, a merge batch's
changed entities, another's relations) at the same time. Sent as they come, each piece is
a request of its own, nine texts on average. :class:`EmbeddingQueue` collects the texts of
every caller and sends requests of up to ``EMBEDDING_BATCH_NUM`` texts:

* with no request in flight, what is queued goes at once (after one turn of the event
  loop, so that callers of the same moment share it): a lone query pays no wait;
* with requests in flight, texts wait up to ``wait`` seconds for company, or until a
  request is full; the binding's own semaphore (``EMBEDDING_FUNC_MAX_ASYNC``) still bounds
  the requests in flight;
* identical texts in one request are embedded once.

A failed request fails every caller whose texts were in it; a cancelled caller's texts are
dropped from requests not yet sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lambdarag.llm.base import EmbeddingBinding
from lambdarag.utils import gather_all

if TYPE_CHECKING:
    import numpy as np

_Item = tuple[str, "asyncio.Future[np.ndarray]"]


class EmbeddingQueue(EmbeddingBinding):
    """An embedding binding that batches the texts of concurrent callers (module docstring).

    Parameters
    ----------
    inner:
        The binding that sends requests; its ``batch_num`` (``EMBEDDING_BATCH_NUM``) is the
        most texts per request, so one queued request is one provider request.
    wait:
        Seconds a text may wait for company while other requests are in flight.

    Examples
    --------
    >>> embedder = EmbeddingQueue(create_embedding(config), wait=0.01)  # doctest: +SKIP
    >>> await embedder.embed(["Acme Corp", "Berlin"])  # doctest: +SKIP
    """

    def __init__(self, inner: EmbeddingBinding, *, wait: float) -> None:
        if wait < 0:
            raise ValueError("EmbeddingQueue needs wait >= 0")
        self.inner = inner
        self.config = inner.config
        self.size = max(1, inner.config.batch_num)
        self.wait = wait
        self.requests = 0  # sent so far (reported by the benchmarks)
        self._pending: list[_Item] = []
        self._in_flight = 0
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in texts]
        self._pending.extend(zip(texts, futures, strict=True))
        self._schedule(loop)
        rows = await gather_all(futures)
        return np.stack(rows).astype(np.float32, copy=False)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        while len(self._pending) >= self.size:
            self._send(loop)
        if self._pending and self._timer is None:
            delay = 0.0 if self._in_flight == 0 else self.wait
            self._timer = loop.call_later(delay, self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self._pending:
            self._send(loop)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending[: self.size], self._pending[self.size :]
        self._in_flight += 1
        task = loop.create_task(self._request(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, batch: list[_Item]) -> None:
        try:
            live = [(text, future) for text, future in batch if not future.done()]
            unique = list(dict.fromkeys(text for text, _ in live))
            if unique:
                self.requests += 1
                matrix = await self.inner.embed(unique)
                rows = dict(zip(unique, matrix, strict=True))
                for text, future in live:
                    if not future.done():
                        future.set_result(rows[text])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # every caller of this request learns why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._in_flight -= 1
            if self._pending and self._timer is None:
                self._schedule(asyncio.get_running_loop())

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.inner.aclose()
