"""Do cheaper summaries retrieve worse? The same corpus indexed two ways, the same questions.

Indexing asks the LLM for several entities' (or relations') summaries per call in a merge
round (``LAMBDARAG_SUMMARY_BATCH_SIZE``, default 8). This indexes bench_indexing's corpus
once with 8 and once with 1 (LightRAG's one call per key), against the fake provider, then
asks every bench question in each mode and compares what was retrieved:

* entity hit: the person the question names is among the retrieved entities;
* chunk hit: a retrieved chunk mentions that person together with the question's topic;
* overlap: the share of retrieved entities (and chunks) both indexes return.

    .venv/bin/python bench/bench_quality.py [--docs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

from bench_indexing import FIRST, LAST, TOPICS, corpus, index  # noqa: E402
from lambdarag.query.answer import retrieve_context  # noqa: E402
from lambdarag.query.param import QueryParam  # noqa: E402

MODES = ["local", "global", "hybrid", "mix", "naive"]


def questions() -> list[tuple[str, str, str]]:
    """(question, person, topic) triples over the corpus' people and topics."""
    return [(f"What did {f} {last} do about {t}?", f"{f} {last}", t)
            for f in FIRST[:5] for last in LAST[:3] for t in TOPICS[:2]]


async def retrieved(engine: Any) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    ws = await engine.workspace()
    found = {}
    for question, _, _ in questions():
        for mode in MODES:
            result = await retrieve_context(ws, question, QueryParam(mode=mode))  # type: ignore[arg-type]
            entities = [e.get("entity_name", "") for e in (result.entities if result else [])]
            chunks = [c.get("content", "") for c in (result.chunks if result else [])]
            found[(question, mode)] = (entities, chunks)
    return found


def score(found: dict[tuple[str, str], tuple[list[str], list[str]]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for mode in MODES:
        entity_hits = chunk_hits = 0
        for question, person, topic in questions():
            entities, chunks = found[(question, mode)]
            entity_hits += person in entities
            chunk_hits += any(person in c and topic in c for c in chunks)
        n = len(questions())
        table[mode] = {"entity_hit": round(entity_hits / n, 3), "chunk_hit": round(chunk_hits / n, 3)}
    return table


def overlap(a: dict[Any, tuple[list[str], list[str]]], b: dict[Any, tuple[list[str], list[str]]],
            part: int) -> float:
    shares = []
    for key in a:
        left, right = set(a[key][part]), set(b[key][part])
        if left or right:
            shares.append(len(left & right) / len(left | right))
    return round(sum(shares) / len(shares), 3) if shares else 1.0


async def main_async(docs: int) -> dict[str, Any]:
    texts = corpus(docs)
    report: dict[str, Any] = {"documents": docs, "questions": len(questions())}
    found = {}
    with FakeLLMServer() as fake, tempfile.TemporaryDirectory() as tmp:
        for batch in (8, 1):
            fake.reset()
            _, engine = await index(fake, texts, Path(tmp) / f"b{batch}",
                                    lambdarag_summary_batch_size=batch)
            summaries = sum("Descriptions" in json.dumps(body) for _, body in fake.requests)
            found[batch] = await retrieved(engine)
            await engine.aclose()
            report[f"batch_{batch}"] = {"summary_calls": summaries, **score(found[batch])}
    report["entity_overlap"] = overlap(found[8], found[1], 0)
    report["chunk_overlap"] = overlap(found[8], found[1], 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = asyncio.run(main_async(args.docs))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
