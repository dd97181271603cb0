"""Benchmark of the AWS adapters against the local servers, beside the embedded store.

    scripts/services start all
    .venv/bin/python bench/bench_adapters.py [--quick] [--json PATH]

One run, same data, same calls, side by side:

* vectors: bulk upsert (vectors/s) and top-k query latency, embedded vs OpenSearch k-NN
  (lucene HNSW on the local node, ``refresh=true``);
* graph: node_edges / get_nodes / node_degrees / neighbourhood (subgraph depth 1) /
  subgraph (depth 3) latency, embedded vs Neptune (Gremlin Server 3.7 + TinkerGraph).

Both sides are opened through ``StorageSelection`` exactly as the server opens them. The
local servers run on the same machine as the benchmark (no network hop, no TLS, no SigV4),
so the figures show the adapters' round trips and the servers' CPU cost, not AWS latency.
Everything the run writes is under a unique workspace and index prefix and is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from bench_storage import DIM, TOP_K, build_graph, timed, unit_rows
from lambdarag.config import NeptuneEnv, OpenSearchEnv
from lambdarag.storage.base import GraphStorage, VectorStorage
from lambdarag.storage.select import StorageSelection

UPSERT_BATCH = 500
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scale:
    vectors: int
    graph_nodes: int
    repeats: int


FULL = Scale(vectors=5_000, graph_nodes=5_000, repeats=100)
QUICK = Scale(vectors=1_000, graph_nodes=1_000, repeats=20)


@dataclass(frozen=True)
class Pair:
    metric: str
    embedded: tuple[float, float] | float  # (p50, p95) ms, or a rate
    aws: tuple[float, float] | float
    unit: str = "ms"


async def vector_side(store: VectorStorage, scale: Scale, seed: int) -> tuple[float, tuple[float, float]]:
    rng = np.random.default_rng(seed)
    spent = 0.0
    for first in range(0, scale.vectors, UPSERT_BATCH):
        last = min(first + UPSERT_BATCH, scale.vectors)
        items = [{"id": f"chunk-{i}", "full_doc_id": f"doc-{i // 20}"} for i in range(first, last)]
        rows = unit_rows(rng, last - first)
        begin = time.perf_counter()
        await store.upsert(items, rows)
        spent += time.perf_counter() - begin
    assert await store.count() == scale.vectors
    queries = itertools.cycle(unit_rows(rng, 64))
    latency = await timed(lambda: store.query(next(queries), TOP_K, threshold=-1.0), scale.repeats)
    return scale.vectors / spent, latency


async def graph_side(graph: GraphStorage, scale: Scale, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    begin = time.perf_counter()
    edges = await build_graph(graph, scale.graph_nodes, rng)
    found: dict[str, object] = {"build": time.perf_counter() - begin, "edges": edges}
    names = [f"entity-{i}" for i in np.random.default_rng(7).integers(0, scale.graph_nodes, 2_000)]
    counter = itertools.count()

    def sample(count: int) -> list[str]:
        start = (next(counter) * count) % (len(names) - count)
        return names[start : start + count]

    few = max(5, scale.repeats // 5)
    for metric, call, repeats in [
        ("node_edges(1 node)", lambda: graph.node_edges(sample(1)), scale.repeats),
        ("get_nodes(20 names)", lambda: graph.get_nodes(sample(20)), scale.repeats),
        ("node_degrees(40 names)", lambda: graph.node_degrees(sample(40)), scale.repeats),
        ("neighbourhood subgraph(label, 1, 1000)", lambda: graph.subgraph(sample(1)[0], 1, 1000),
         scale.repeats),
        ("subgraph(label, 3, 1000)", lambda: graph.subgraph(sample(1)[0], 3, 1000), few),
        ("subgraph('*', 3, 1000)", lambda: graph.subgraph("*", 3, 1000), few),
    ]:
        found[metric] = await timed(call, repeats)
    return found


def selection(working_dir: Path, aws: bool, prefix: str) -> StorageSelection:
    os_port = os.environ.get("LAMBDARAG_OPENSEARCH_PORT", "9200")
    gremlin_port = os.environ.get("LAMBDARAG_GREMLIN_PORT", "8182")
    environ = {
        "OPENSEARCH_HOSTS": f"http://{HOST}:{os_port}",
        "LAMBDARAG_OPENSEARCH_INDEX_PREFIX": prefix,
        "GREMLIN_URL": f"ws://{HOST}:{gremlin_port}/gremlin",
    }
    backends = {"kv": "embedded", "doc_status": "embedded",
                "vectors": "opensearch" if aws else "embedded",
                "graph": "neptune" if aws else "embedded"}
    adapters = {"opensearch": OpenSearchEnv.from_mapping(environ).adapter(),
                "neptune": NeptuneEnv.from_mapping(environ).adapter()} if aws else {}
    return StorageSelection(backends, working_dir, adapters)


async def side(working_dir: Path, aws: bool, scale: Scale, workspace: str, prefix: str
               ) -> tuple[float, tuple[float, float], dict[str, object]]:
    chosen = selection(working_dir, aws, prefix)
    factory = chosen.open(workspace)
    store, graph = factory.vectors("chunks", DIM), factory.graph()
    try:
        rate, latency = await vector_side(store, scale, seed=42)
        graph_rows = await graph_side(graph, scale, seed=43)
    finally:
        if aws:
            await store.drop()
            await graph.drop()
        await factory.close()
        await chosen.aclose()
    return rate, latency, graph_rows


async def run(scale: Scale) -> tuple[list[Pair], str]:
    workspace, prefix = f"bench_{uuid.uuid4().hex[:8]}", f"lrbench-{uuid.uuid4().hex[:8]}"
    with TemporaryDirectory(prefix="lambdarag-bench-") as directory:
        e_rate, e_lat, e_graph = await side(Path(directory), False, scale, workspace, prefix)
        a_rate, a_lat, a_graph = await side(Path(directory), True, scale, workspace, prefix)
    vectors = f"{scale.vectors:,} x {DIM}"
    label = f"{scale.graph_nodes:,} nodes / {e_graph['edges']:,} edges"
    pairs = [
        Pair(f"vector bulk upsert ({vectors}, batches of {UPSERT_BATCH})", e_rate, a_rate,
             "vectors/s"),
        Pair(f"vector top-{TOP_K} query @ {vectors}", e_lat, a_lat),
        Pair(f"graph build ({label})", float(e_graph["build"]), float(a_graph["build"]), "s"),
    ]
    pairs += [Pair(f"graph {metric}", e_graph[metric], a_graph[metric])  # type: ignore[arg-type]
              for metric in e_graph if metric not in ("build", "edges")]
    return pairs, label


def render(pairs: list[Pair]) -> str:
    width = max(len(p.metric) for p in pairs)
    head = (f"{'metric':<{width}}  {'embedded p50':>12}  {'p95':>9}  {'AWS p50':>10}  {'p95':>9}"
            f"  {'AWS/embedded':>12}")
    lines = [head, "-" * len(head)]
    for p in pairs:
        if isinstance(p.embedded, tuple) and isinstance(p.aws, tuple):
            ratio = p.aws[0] / p.embedded[0]
            lines.append(f"{p.metric:<{width}}  {p.embedded[0]:>9.2f} ms  {p.embedded[1]:>9.2f}"
                         f"  {p.aws[0]:>7.2f} ms  {p.aws[1]:>9.2f}  {ratio:>11.1f}x")
        else:
            e, a = float(p.embedded), float(p.aws)  # type: ignore[arg-type]
            unit = p.unit
            lines.append(f"{p.metric:<{width}}  {e:>12,.2f}  {'':>9}  {a:>10,.2f}  {'':>9}"
                         f"  {a / e:>11.2f}x  ({unit})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    pairs, _ = asyncio.run(run(QUICK if args.quick else FULL))
    print(render(pairs))
    if args.json:
        args.json.write_text(json.dumps([asdict(pair) for pair in pairs], indent=2))


if __name__ == "__main__":
    main()
