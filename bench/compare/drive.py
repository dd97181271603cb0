"""Drive a running server over HTTP, as a user would, and measure it on the provider side.

Indexing: upload every file with ``POST /documents/upload``, poll
``/documents/status_counts`` until all are processed, and read from the fake provider's
ledger what the run cost (calls by kind, embedding requests and texts, prompt
characters, how full the chat and embedding slots were). Queries: ``/query/data``
(retrieval only) and ``/query`` (with the answer) per mode, distinct questions each time
so that no LLM cache answers.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from bench.compare.servers import EMBEDDING_SLOTS, MAX_ASYNC, Server
from tests.fakes.ledger import (
    EMBEDDING,
    Call,
    busy_fraction,
    covered_seconds,
    peak_in_flight,
    tally,
)
from tests.fakes.llm_server import FakeLLMServer

MODES = ("naive", "local", "global", "hybrid", "mix")
FIRST = ["Alice", "Bruno", "Chen", "Dara", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jana"]
LAST = ["Smith", "Novak", "Okafor", "Lund", "Moreau", "Tanaka"]
TOPICS = ["solar storage", "river ecology", "quantum sensors", "urban farming", "deep sea mapping"]
POLL_S = 0.25
SETTINGS = ("max_async", "max_parallel_insert", "embedding_func_max_async", "embedding_batch_num",
            "force_llm_summary_on_merge", "summary_max_tokens")


@dataclass
class IndexRun:
    """One indexing run of one system at one provider latency."""

    system: str
    delay_s: float
    documents: int
    wall_s: float
    failed: int
    calls: dict[str, int]
    chat_busy: float
    embedding_busy: float
    chat_peak: int
    embedding_peak: int
    provider_covered_s: float  # seconds with at least one provider call in flight
    chat_covered_s: float  # seconds with at least one chat call in flight
    server_cpu_s: float
    rss_mb: float
    peak_rss_mb: float
    nodes: int
    prompt_chars_by_kind: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # from /health, as the server runs
    # (start, end, kind) of every call, seconds from the first upload, for the timeline plot
    spans: list[tuple[float, float, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def upload_and_wait(server: Server, docs: dict[str, str], timeout: float,
                    poll_s: float = POLL_S) -> tuple[float, float, int]:
    """Upload ``docs``; returns (start, end) on time.monotonic() and how many failed."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        started = time.monotonic()
        for name, text in docs.items():
            answer = client.post("/documents/upload",
                                 files={"file": (name, text.encode(), "text/plain")})
            if answer.status_code != 200 or answer.json().get("status") != "success":
                raise RuntimeError(f"{server.name}: upload of {name} answered "
                                   f"{answer.status_code} {answer.text[:300]}")
        deadline = started + timeout
        while True:
            counts = client.get("/documents/status_counts").json()["status_counts"]
            done = counts.get("processed", 0) + counts.get("failed", 0)
            if done >= len(docs) and not counts.get("processing") and not counts.get("pending"):
                return started, time.monotonic(), counts.get("failed", 0)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name}: not indexed after {timeout:.0f} s: {counts}")
            time.sleep(poll_s)


def calls_between(fake: FakeLLMServer, start: float, end: float) -> list[Call]:
    return [c for c in fake.calls if c.started >= start and c.started <= end]


def server_settings(server: Server) -> dict[str, Any]:
    """The concurrency and summary settings the server reports in ``/health``."""
    configuration = httpx.get(f"{server.url}/health", timeout=30).json().get("configuration", {})
    return {key: configuration.get(key) for key in SETTINGS}


def index_run(server: Server, fake: FakeLLMServer, docs: dict[str, str], delay_s: float,
              timeout: float = 3600) -> IndexRun:
    settings = server_settings(server)
    embedding_slots = int(settings.get("embedding_func_max_async") or EMBEDDING_SLOTS)
    cpu_before = server.cpu_seconds()
    start, end, failed = upload_and_wait(server, docs, timeout)
    cpu = server.cpu_seconds() - cpu_before
    calls = calls_between(fake, start, end)
    chat = [c for c in calls if c.is_chat]
    embedding = [c for c in calls if c.kind == EMBEDDING]
    rss, peak = server.rss_mb()
    labels = httpx.get(f"{server.url}/graph/label/list", timeout=60).json()
    return IndexRun(
        system=server.name, delay_s=delay_s, documents=len(docs), wall_s=end - start,
        failed=failed, calls=tally(calls),
        chat_busy=busy_fraction(chat, start, end, MAX_ASYNC),
        embedding_busy=busy_fraction(embedding, start, end, embedding_slots),
        chat_peak=peak_in_flight(chat), embedding_peak=peak_in_flight(embedding),
        provider_covered_s=covered_seconds(calls, start, end),
        chat_covered_s=covered_seconds(chat, start, end), server_cpu_s=cpu,
        rss_mb=rss, peak_rss_mb=peak, nodes=len(labels),
        prompt_chars_by_kind=_chars_by_kind(chat), settings=settings,
        spans=[(round(c.started - start, 4), round((c.ended or end) - start, 4), c.kind)
               for c in calls],
    )


def _chars_by_kind(calls: list[Call]) -> dict[str, int]:
    chars: dict[str, int] = {}
    for call in calls:
        chars[call.kind] = chars.get(call.kind, 0) + call.prompt_chars
    return chars


def questions(count: int, offset: int, pool: list[str] | None = None) -> list[str]:
    """Distinct questions about the corpus' people and topics (offset picks a fresh slice)."""
    pool = pool or [f"What did {f} {last} do about {t}?" for t in TOPICS for last in LAST for f in FIRST]
    return [pool[(offset + i) % len(pool)] for i in range(count)]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def query_latency(server: Server, rounds: int, path: str = "/query/data", offset: int = 0,
                  pool: list[str] | None = None,
                  fake: FakeLLMServer | None = None) -> dict[str, dict[str, float]]:
    """p50 / p95 / first (ms) per mode; the first query of each mode is timed apart.

    With ``fake``, also ``provider_p50``: the ms of a query during which a provider call
    (keywords, query embedding, answer) was in flight, and ``chat_calls`` per query.
    """
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        for index, mode in enumerate(MODES):
            asked = questions(rounds + 1, offset + index * (rounds + 1), pool)
            times, spans = [], []
            for question in asked:
                body = {"query": question, "mode": mode, "stream": False}
                started = time.monotonic()
                answer = client.post(path, json=body)
                ended = time.monotonic()
                times.append((ended - started) * 1000)
                spans.append((started, ended))
                if answer.status_code != 200:
                    raise RuntimeError(f"{server.name} {path} {mode}: {answer.status_code} "
                                       f"{answer.text[:300]}")
            results[mode] = {"first": times[0], "p50": percentile(times[1:], 50),
                             "p95": percentile(times[1:], 95)}
            if fake is not None:
                calls = [calls_between(fake, a, b) for a, b in spans[1:]]
                provider = [covered_seconds(c, a, b) * 1000
                            for c, (a, b) in zip(calls, spans[1:], strict=True)]
                results[mode]["provider_p50"] = percentile(provider, 50)
                results[mode]["chat_calls"] = sum(x.is_chat for c in calls for x in c) / len(calls)
    return results
