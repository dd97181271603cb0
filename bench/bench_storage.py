"""Benchmark of the embedded storage backend.

    .venv/bin/python bench/bench_storage.py [--quick] [--json PATH]

Builds a temporary workspace with random unit vectors (1024 dims) and a skewed
random graph, then times the calls the query path makes. Latencies are measured
around the awaited store call (executor hop included) after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lambdarag.storage.base import GraphStorage, StorageFactory, VectorStorage
from lambdarag.storage.embedded import EmbeddedStorageFactory

DIM = 1024
TOP_K = 40
UPSERT_BATCH = 2_000
GRAPH_BATCH = 10_000
EDGES_PER_NODE = 3
WORKSPACE = "bench"


@dataclass(frozen=True)
class Scale:
    vector_steps: tuple[int, ...]
    graph_nodes: int
    repeats: int


FULL = Scale(vector_steps=(10_000, 100_000), graph_nodes=100_000, repeats=200)
QUICK = Scale(vector_steps=(2_000, 10_000), graph_nodes=10_000, repeats=50)


@dataclass(frozen=True)
class Row:
    metric: str
    p50_ms: float | None
    p95_ms: float | None
    value: str = ""


async def timed(call: Callable[[], Awaitable[object]], repeats: int) -> tuple[float, float]:
    """(p50, p95) in milliseconds over ``repeats`` calls, after three warm-up calls."""
    for _ in range(3):
        await call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    quantiles = statistics.quantiles(samples, n=20)
    return statistics.median(samples), quantiles[18]


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, DIM), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def grow_vectors(
    store: VectorStorage, start: int, stop: int, rng: np.random.Generator
) -> float:
    """Upsert ids ``start..stop-1`` in batches; returns the seconds spent in upsert."""
    spent = 0.0
    for first in range(start, stop, UPSERT_BATCH):
        last = min(first + UPSERT_BATCH, stop)
        items = [{"id": f"chunk-{i}", "full_doc_id": f"doc-{i // 20}"} for i in range(first, last)]
        vectors = unit_rows(rng, last - first)
        begin = time.perf_counter()
        await store.upsert(items, vectors)
        spent += time.perf_counter() - begin
    return spent


async def bench_vectors(
    factory: StorageFactory, scale: Scale, rng: np.random.Generator
) -> list[Row]:
    store = factory.vectors("chunks", DIM)
    queries = itertools.cycle(unit_rows(rng, 64))
    rows: list[Row] = []
    size, upsert_seconds = 0, 0.0
    for step in scale.vector_steps:
        upsert_seconds += await grow_vectors(store, size, step, rng)
        size = step
        p50, p95 = await timed(
            lambda: store.query(next(queries), TOP_K, threshold=-1.0), scale.repeats
        )
        rows.append(Row(f"vector query top-{TOP_K} @ {step:,} x {DIM}", p50, p95))
    rate = size / upsert_seconds
    rows.append(
        Row(
            f"vector bulk upsert (batches of {UPSERT_BATCH:,})",
            None,
            None,
            f"{rate:,.0f} vectors/s",
        )
    )
    return rows


async def cold_vector_load(working_dir: Path, rng: np.random.Generator) -> Row:
    """First query of a freshly opened factory (loads the whole matrix)."""
    factory = EmbeddedStorageFactory(working_dir, WORKSPACE)
    try:
        store = factory.vectors("chunks", DIM)
        start = time.perf_counter()
        await store.query(unit_rows(rng, 1)[0], TOP_K)
        seconds = time.perf_counter() - start
        count = await store.count()
    finally:
        await factory.close()
    return Row(f"vector cold load + first query ({count:,})", seconds * 1000, None)


async def build_graph(graph: GraphStorage, nodes: int, rng: np.random.Generator) -> int:
    """``nodes`` nodes and about 3 edges per node, skewed so that low ids are hubs."""
    description = "x" * 200
    for first in range(0, nodes, GRAPH_BATCH):
        await graph.upsert_nodes(
            {
                f"entity-{i}": {
                    "entity_type": "concept",
                    "description": description,
                    "source_id": "c",
                }
                for i in range(first, min(first + GRAPH_BATCH, nodes))
            }
        )
    sources = rng.integers(0, nodes, size=nodes * EDGES_PER_NODE)
    targets = (nodes * rng.random(size=nodes * EDGES_PER_NODE) ** 3).astype(np.int64)
    pairs = {
        (int(min(s, t)), int(max(s, t))) for s, t in zip(sources, targets, strict=True) if s != t
    }
    ordered = sorted(pairs)
    for first in range(0, len(ordered), GRAPH_BATCH):
        await graph.upsert_edges(
            {
                (f"entity-{a}", f"entity-{b}"): {
                    "weight": 1.0,
                    "description": "rel",
                    "keywords": "k",
                }
                for a, b in ordered[first : first + GRAPH_BATCH]
            }
        )
    return len(ordered)


async def bench_graph(factory: StorageFactory, scale: Scale, rng: np.random.Generator) -> list[Row]:
    graph = factory.graph()
    begin = time.perf_counter()
    edges = await build_graph(graph, scale.graph_nodes, rng)
    build = time.perf_counter() - begin
    names = [f"entity-{i}" for i in rng.integers(0, scale.graph_nodes, size=4_000)]
    counter = itertools.count()

    def sample(count: int) -> list[str]:
        start = (next(counter) * count) % (len(names) - count)
        return names[start : start + count]

    label = f"{scale.graph_nodes:,} nodes / {edges:,} edges"
    rows = [Row(f"graph build ({label})", None, None, f"{build:.1f} s")]
    for metric, call, repeats in [
        ("graph node_edges(1 node)", lambda: graph.node_edges(sample(1)), scale.repeats),
        ("graph get_nodes(20 names)", lambda: graph.get_nodes(sample(20)), scale.repeats),
        ("graph node_degrees(40 names)", lambda: graph.node_degrees(sample(40)), scale.repeats),
        ("graph subgraph(label, 3, 1000)", lambda: graph.subgraph(sample(1)[0], 3, 1000), 20),
        ("graph subgraph('*', 3, 1000)", lambda: graph.subgraph("*", 3, 1000), 20),
        ("graph search_labels('ty-123', 50)", lambda: graph.search_labels("ty-123", 50), 20),
    ]:
        p50, p95 = await timed(call, repeats)
        rows.append(Row(metric, p50, p95))
    return rows


def render(rows: list[Row]) -> str:
    def ms(value: float | None) -> str:
        return "" if value is None else f"{value:,.2f}"

    width = max(len(row.metric) for row in rows)
    lines = [f"{'metric':<{width}}  {'p50 ms':>10}  {'p95 ms':>10}  value", "-" * (width + 40)]
    lines += [
        f"{row.metric:<{width}}  {ms(row.p50_ms):>10}  {ms(row.p95_ms):>10}  {row.value}"
        for row in rows
    ]
    return "\n".join(lines)


async def run(scale: Scale) -> list[Row]:
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory(prefix="lambdarag-bench-") as directory:
        working_dir = Path(directory)
        factory = EmbeddedStorageFactory(working_dir, WORKSPACE)
        try:
            rows = await bench_vectors(factory, scale, rng)
            rows += await bench_graph(factory, scale, rng)
        finally:
            await factory.close()
        rows.append(await cold_vector_load(working_dir, rng))
        size = sum(path.stat().st_size for path in (working_dir / WORKSPACE).iterdir())
        rows.append(Row("sqlite file size (db + wal)", None, None, f"{size / 2**20:,.0f} MiB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    rows = asyncio.run(run(QUICK if args.quick else FULL))
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2))


if __name__ == "__main__":
    main()
