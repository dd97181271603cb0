"""Indexing cost and query overhead on a synthetic corpus, against the fake LLM server.

The corpus has the shape of the one behind LightRAG's published figures: 100 documents
of about 600 words whose entities recur across documents. Two runs:

* a slow LLM (200 ms per chat call, instant embeddings), MAX_ASYNC=4: wall time,
  LLM calls by kind, embedding requests and texts, prompt characters;
* an instant LLM: the engine's own indexing overhead and query latency per mode.

    .venv/bin/python bench/bench_indexing.py [--docs 100] [--delay 0.2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

from lambdarag.config import load_settings  # noqa: E402
from lambdarag.documents import lifecycle as documents  # noqa: E402
from lambdarag.query.answer import aquery  # noqa: E402
from lambdarag.query.param import QueryParam  # noqa: E402
from lambdarag.runtime import build_engine  # noqa: E402
from lambdarag.runtime.engine import Engine  # noqa: E402
from lambdarag.utils import new_track_id  # noqa: E402

FIRST = ["Alice", "Bruno", "Chen", "Dara", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jana"]
LAST = ["Smith", "Novak", "Okafor", "Lund", "Moreau", "Tanaka"]
ORGS = ["Acme Corp", "Helix Labs", "Orion Institute", "Vega Agency", "Nimbus Company", "Delta University"]
PLACES = ["Berlin", "Porto", "Kyoto", "Lagos", "Quito", "Oslo", "Perth", "Dakar"]
VERBS = ["met", "hired", "advised", "funded", "visited", "studied", "criticised", "praised"]
TOPICS = ["solar storage", "river ecology", "quantum sensors", "urban farming", "deep sea mapping"]
MODES = ["naive", "local", "global", "hybrid", "mix"]


def corpus(n_docs: int, seed: int = 7) -> dict[str, str]:
    rng = random.Random(seed)
    people = [f"{f} {last}" for f in FIRST for last in LAST]
    entities = people + ORGS
    docs = {}
    for d in range(n_docs):
        sentences = []
        while sum(len(s.split()) for s in sentences) < 600:
            a, b = rng.sample(entities, 2)
            sentences.append(f"{a} {rng.choice(VERBS)} {b} in {rng.choice(PLACES)} "
                             f"about the {rng.choice(TOPICS)} programme last year.")
        docs[f"report{d:03d}.txt"] = " ".join(sentences)
    return docs


def calls_by_kind(fake: FakeLLMServer) -> dict[str, int]:
    kinds = {"extraction": 0, "gleaning": 0, "summary": 0, "other_llm": 0,
             "embedding_requests": 0, "embedded_texts": 0, "prompt_chars": 0}
    for path, body in fake.requests:
        text = json.dumps(body)
        if "embed" in path:
            kinds["embedding_requests"] += 1
            inputs = body.get("input", [])
            kinds["embedded_texts"] += len(inputs) if isinstance(inputs, list) else 1
            continue
        kinds["prompt_chars"] += sum(len(m.get("content", "")) for m in body.get("messages", []))
        if "---Task: continue extraction---" in text:
            kinds["gleaning"] += 1
        elif "---Input Text---" in text:
            kinds["extraction"] += 1
        elif "---Descriptions---" in text:
            kinds["summary"] += 1
        else:
            kinds["other_llm"] += 1
    return kinds


async def index(
    fake: FakeLLMServer, docs: dict[str, str], workdir: Path, **overrides: Any
) -> tuple[float, Engine]:
    settings = load_settings(
        working_dir=workdir, llm_binding="openai", llm_model="fake-llm",
        llm_binding_host=fake.openai_url, embedding_binding="openai", embedding_model="fake-embed",
        embedding_binding_host=fake.openai_url, embedding_dim=1024, max_async=4, **overrides,
    )
    engine = build_engine(settings)
    ws = await engine.workspace()
    started = time.perf_counter()
    queued = await documents.enqueue(
        ws, [documents.NewDocument(name, text) for name, text in docs.items()], new_track_id("insert"))
    await engine.runner.submit(ws.name, queued.doc_ids)
    await engine.runner.wait_idle()
    elapsed = time.perf_counter() - started
    failed = [r for r in await ws.stores.doc_status.by_status(["failed"])]
    if failed:
        raise SystemExit(f"{len(failed)} documents failed: {failed[0].get('error_msg')}")
    return elapsed, engine


async def query_latency(engine: Engine, rounds: int) -> dict[str, float]:
    ws = await engine.workspace()
    questions = [f"What did {f} {last} do about {t}?" for f in FIRST[:4] for last in LAST[:2] for t in TOPICS[:2]]
    results = {}
    for mode in MODES:
        times = []
        for question in questions[:rounds]:
            started = time.perf_counter()
            await aquery(ws, question, QueryParam(mode=mode, only_need_context=True))  # type: ignore[arg-type]
            times.append((time.perf_counter() - started) * 1000)
        results[mode] = statistics.median(times)
    return results


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    docs = corpus(args.docs)
    report: dict[str, Any] = {"documents": len(docs), "words": sum(len(t.split()) for t in docs.values())}
    with FakeLLMServer() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.chat_delay = args.delay
        elapsed, engine = await index(fake, docs, Path(tmp) / "slow")
        report["slow_llm"] = {"delay_s": args.delay, "wall_s": round(elapsed, 1), **calls_by_kind(fake)}
        nodes, edges = await (await engine.workspace()).stores.graph.counts()
        report["graph"] = {"nodes": nodes, "edges": edges}
        await engine.aclose()
        fake.reset()
        elapsed, engine = await index(fake, docs, Path(tmp) / "instant")
        report["instant_llm"] = {"wall_s": round(elapsed, 1),
                                 "per_doc_ms": round(elapsed * 1000 / len(docs), 1)}
        report["query_context_p50_ms"] = {m: round(v, 1) for m, v in (await query_latency(engine, args.queries)).items()}
        await engine.aclose()
    return report


def render(report: dict[str, Any]) -> str:
    slow, instant = report["slow_llm"], report["instant_llm"]
    llm_calls = slow["extraction"] + slow["gleaning"] + slow["summary"] + slow["other_llm"]
    lines = [
        f"corpus: {report['documents']} documents, {report['words']} words; "
        f"graph: {report['graph']['nodes']} nodes, {report['graph']['edges']} edges",
        "",
        f"slow LLM ({slow['delay_s'] * 1000:.0f} ms per call, MAX_ASYNC=4):",
        f"  wall time            {slow['wall_s']} s",
        f"  LLM calls            {llm_calls}  (extraction {slow['extraction']}, gleaning {slow['gleaning']}, "
        f"summaries {slow['summary']}, other {slow['other_llm']})",
        f"  embedding requests   {slow['embedding_requests']} for {slow['embedded_texts']} texts",
        f"  prompt characters    {slow['prompt_chars'] / 1e6:.1f} M",
        "",
        f"instant LLM: {instant['wall_s']} s to index ({instant['per_doc_ms']} ms per document)",
        "query retrieval (only_need_context) p50 ms: "
        + ", ".join(f"{m} {v}" for m, v in report["query_context_p50_ms"].items()),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per chat call")
    parser.add_argument("--queries", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
