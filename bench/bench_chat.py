"""What the chat APIs cost on top of /query, measured side by side in one run.

Indexes a small corpus (see bench_indexing.corpus) with an instant fake LLM, then asks
the same questions through /query, /api/chat (Ollama) and /v1/chat/completions (OpenAI),
non-streamed and streamed, over the ASGI app in process (no sockets), with the LLM
answer cache off so every request retrieves and calls the LLM. Reports p50 and p95 per
route and the ratio to /query.

    .venv/bin/python bench/bench_chat.py [--docs 20] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_indexing import FIRST, LAST, TOPICS, corpus, index  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

from lambdarag.api.app import create_app  # noqa: E402

Body = Callable[[str], tuple[str, dict[str, Any]]]
ROUTES: dict[str, Body] = {
    "/query": lambda q: ("/query", {"query": q, "mode": "mix"}),
    "/query/stream": lambda q: ("/query/stream", {"query": q, "mode": "mix"}),
    "/api/chat": lambda q: ("/api/chat", {"model": "lightrag:latest", "stream": False,
                                          "messages": [{"role": "user", "content": q}]}),
    "/api/chat stream": lambda q: ("/api/chat", {"model": "lightrag:latest", "stream": True,
                                                 "messages": [{"role": "user", "content": q}]}),
    "/v1/chat/completions": lambda q: ("/v1/chat/completions", {
        "model": "lightrag:latest", "messages": [{"role": "user", "content": q}]}),
    "/v1/chat/completions stream": lambda q: ("/v1/chat/completions", {
        "model": "lightrag:latest", "stream": True,
        "messages": [{"role": "user", "content": q}]}),
}


def questions(n: int) -> list[str]:
    pool = [f"What did {f} {last} do about {t}?" for f in FIRST for last in LAST for t in TOPICS]
    return pool[:n]


async def measure(client: httpx.AsyncClient, body: Body, asks: list[str]) -> list[float]:
    times = []
    for question in asks:
        path, payload = body(question)
        started = time.perf_counter()
        async with client.stream("POST", path, json=payload) as response:
            async for _ in response.aiter_bytes():
                pass
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        times.append((time.perf_counter() - started) * 1000)
    return times


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    with FakeLLMServer() as fake, tempfile.TemporaryDirectory() as tmp:
        _, engine = await index(fake, corpus(args.docs), Path(tmp), enable_llm_cache=False)
        app = create_app(engine.settings, engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                         timeout=60) as client:
                asks = questions(args.rounds)
                await measure(client, ROUTES["/query"], asks[:5])  # warm caches and loads
                results = {}
                for name, body in ROUTES.items():
                    times = sorted(await measure(client, body, asks))
                    results[name] = {"p50": statistics.median(times),
                                     "p95": times[int(len(times) * 0.95) - 1]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    base = results["/query"]["p50"]
    print(f"{'route':32} {'p50 ms':>8} {'p95 ms':>8} {'p50 / /query':>13}")
    for name, row in results.items():
        print(f"{name:32} {row['p50']:8.1f} {row['p95']:8.1f} {row['p50'] / base:13.2f}")


if __name__ == "__main__":
    main()
