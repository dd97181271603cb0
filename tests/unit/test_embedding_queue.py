"""The embedding queue: concurrent callers share requests, a lone caller never waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
import pytest

from lambdarag.llm.base import EmbeddingBinding, EmbeddingConfig, LLMResponseError
from lambdarag.llm.queue import EmbeddingQueue


class Recorder(EmbeddingBinding):
    """An embedding model that records each request; a text's vector is its length."""

    def __init__(self, batch_num: int, delay: float = 0.0, fail: str | None = None) -> None:
        self.config = EmbeddingConfig(binding="fake", model="m", host="", dim=2,
                                      batch_num=batch_num)
        self.requests: list[list[str]] = []
        self.delay = delay
        self.fail = fail

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.requests.append(list(texts))
        await asyncio.sleep(self.delay)
        if self.fail is not None and self.fail in texts:
            raise LLMResponseError(f"cannot embed {self.fail!r}")
        return np.asarray([[len(t), 1.0] for t in texts], dtype=np.float32)

    async def aclose(self) -> None:
        return None


async def test_concurrent_callers_fill_shared_requests() -> None:
    # GIVEN a model taking 50 ms a request, at most 8 texts each
    inner = Recorder(batch_num=8, delay=0.05)
    queue = EmbeddingQueue(inner, wait=0.02)
    # WHEN 20 callers ask for 3 texts each at about the same time
    results = await asyncio.gather(*(queue.embed([f"t{i}a", f"t{i}bb", f"t{i}ccc"])
                                     for i in range(20)))
    # THEN each caller gets its own rows, in order
    for i, rows in enumerate(results):
        assert rows.shape == (3, 2) and rows.dtype == np.float32
        assert rows[:, 0].tolist() == [len(f"t{i}a"), len(f"t{i}bb"), len(f"t{i}ccc")]
    # AND the 60 texts went in full requests, not one per caller
    sizes = [len(r) for r in inner.requests]
    assert sum(sizes) == 60 and max(sizes) <= 8
    assert len(inner.requests) <= 9 < 20
    assert queue.requests == len(inner.requests)


async def test_a_lone_caller_is_sent_at_once() -> None:
    inner = Recorder(batch_num=64)
    queue = EmbeddingQueue(inner, wait=5.0)  # a wait this long would show
    started = time.perf_counter()
    rows = await queue.embed(["what is Acme Corp?"])
    assert time.perf_counter() - started < 1.0
    assert rows.tolist() == [[18.0, 1.0]] and inner.requests == [["what is Acme Corp?"]]


async def test_identical_texts_in_a_request_are_embedded_once() -> None:
    inner = Recorder(batch_num=64)
    queue = EmbeddingQueue(inner, wait=0.01)
    first, second = await asyncio.gather(queue.embed(["Berlin", "Acme"]), queue.embed(["Berlin"]))
    assert first[:, 0].tolist() == [6, 4] and second[:, 0].tolist() == [6]
    assert sorted(t for r in inner.requests for t in r) == ["Acme", "Berlin"]


async def test_a_failed_request_fails_its_callers_only() -> None:
    inner = Recorder(batch_num=2, delay=0.02, fail="poison")
    queue = EmbeddingQueue(inner, wait=0.01)
    outcomes = await asyncio.gather(queue.embed(["ok1", "ok2"]), queue.embed(["poison", "x"]),
                                    return_exceptions=True)
    assert outcomes[0][:, 0].tolist() == [3, 3]
    assert isinstance(outcomes[1], LLMResponseError) and "poison" in str(outcomes[1])
    # and the queue keeps working
    assert (await queue.embed(["again"]))[:, 0].tolist() == [5]


async def test_a_cancelled_caller_leaves_the_others_their_answers() -> None:
    inner = Recorder(batch_num=4, delay=0.05)
    queue = EmbeddingQueue(inner, wait=0.01)
    busy = asyncio.create_task(queue.embed(["first"]))  # in flight: the next ones wait
    await asyncio.sleep(0)
    doomed = asyncio.create_task(queue.embed(["dropped"]))
    kept = asyncio.create_task(queue.embed(["kept"]))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await kept)[:, 0].tolist() == [4]
    await busy
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert "dropped" not in [t for r in inner.requests for t in r]
    await queue.aclose()
