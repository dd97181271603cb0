"""LambdaRAG at 1,000 to 100,000 entities: query overhead, an incremental add, memory.

For each backend (the embedded default; DynamoDB + OpenSearch + Neptune on the local
servers of ``scripts/services``) and each size: build the store with
:mod:`bench.compare.seed`, serve it with ``lambdarag serve`` on the fake provider at
0 ms, time ``/query/data`` per mode, upload one new document and measure its indexing
time minus the time any provider call was in flight, read the server's memory, then
remove what was written (the local AWS servers are shared).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from bench.compare.drive import MODES, TOPICS, calls_between, query_latency, upload_and_wait
from bench.compare.seed import PLACES, entity_name
from bench.compare.servers import LAMBDARAG, ROOT, provider_env, running
from tests.fakes.ledger import covered_seconds
from tests.fakes.llm_server import FakeLLMServer

logger = logging.getLogger("bench")
ROUNDS = 20
LOCAL_AWS = {"dynamodb": 8000, "opensearch": 9200, "gremlin": 8182}


def aws_env(name: str) -> dict[str, str]:
    """The AWS adapters on the local servers, scoped to ``name`` (table, indices, workspace)."""
    return {
        "LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
        "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage",
        "LIGHTRAG_VECTOR_STORAGE": "OpenSearchVectorDBStorage",
        "LIGHTRAG_GRAPH_STORAGE": "NeptuneGraphStorage",
        "DYNAMODB_ENDPOINT_URL": f"http://127.0.0.1:{LOCAL_AWS['dynamodb']}",
        "LAMBDARAG_DYNAMODB_TABLE": name,
        "OPENSEARCH_HOSTS": f"127.0.0.1:{LOCAL_AWS['opensearch']}",
        "LAMBDARAG_OPENSEARCH_INDEX_PREFIX": name,
        "GREMLIN_HOST": "127.0.0.1", "GREMLIN_PORT": str(LOCAL_AWS["gremlin"]),
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "WORKSPACE": name,
    }


def aws_available() -> str | None:
    """None when every local server answers, else why not."""
    result = subprocess.run([str(ROOT / "scripts" / "services"), "status"], capture_output=True,
                            text=True)
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()[-300:]


def _seed(workdir: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    full = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
            "PYTHONPATH": str(ROOT), **env}
    result = subprocess.run([sys.executable, "-m", "bench.compare.seed", *args], cwd=workdir,
                            env=full, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"seed {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}


def new_document(names: list[str]) -> str:
    """About 300 words on six stored entities (two of them hubs) and four new ones."""
    known = [entity_name(0), entity_name(1), *names[:4]]
    fresh = [f"Newcomer {word}" for word in ("Alpha", "Bravo", "Charlie", "Delta")]
    people = known + fresh
    sentences = []
    for k in range(24):
        a, b = people[k % len(people)], people[(k * 3 + 1) % len(people)]
        if a != b:
            sentences.append(f"{a} met {b} in {PLACES[k % len(PLACES)]} about the "
                             f"{TOPICS[k % len(TOPICS)]} programme this year.")
    return " ".join(sentences)


# The vector searches each mode makes (one exact top-k over each named store).
SEARCHES = {"naive": ("chunks",), "local": ("entities",), "global": ("relationships",),
            "hybrid": ("entities", "relationships"),
            "mix": ("chunks", "entities", "relationships")}


def exact_search_ms(rows: int, dim: int = 1024, repeats: int = 15) -> float:
    """Median ms of one exact top-40 over ``rows`` unit vectors, as the embedded store does it
    (one matrix-vector product and a partial sort), measured in this process meanwhile."""
    import numpy as np

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((max(rows, 1), dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = matrix[0]
    times = []
    for _ in range(repeats + 1):  # the first one warms BLAS's threads up and is not counted
        started = time.perf_counter()
        scores = matrix @ query
        np.argpartition(-scores, min(39, len(scores) - 1))[:40]
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times[1:])[len(times) // 2]


def incremental_add(server: Any, fake: FakeLLMServer, names: list[str]) -> dict[str, float]:
    start, end, failed = upload_and_wait(server, {"incremental.txt": new_document(names)},
                                         timeout=600, poll_s=0.05)
    covered = covered_seconds(calls_between(fake, start, end), start, end)
    return {"wall_s": end - start, "provider_s": covered, "own_s": end - start - covered,
            "failed": failed}


def one(fake: FakeLLMServer, tmp: Path, backend: str, entities: int) -> dict[str, Any]:
    name = f"bench{uuid.uuid4().hex[:8]}"
    workdir = tmp / f"scale-{backend}-{entities}"
    workdir.mkdir(parents=True)
    storage = aws_env(name) if backend == "aws" else {}
    env = {**provider_env(fake.url), "WORKING_DIR": str(workdir / "rag_storage"), **storage}
    row: dict[str, Any] = {"backend": backend, "entities": entities}
    try:
        logger.info("scale %s %d: building", backend, entities)
        built = _seed(workdir, env, "--entities", str(entities))
        row.update({k: built[k] for k in ("entities", "relations", "chunks", "build_s")})
        if backend == "embedded":
            row["search_ms"] = {store: exact_search_ms(built[count]) for store, count in
                                (("entities", "entities"), ("relationships", "relations"),
                                 ("chunks", "chunks"))}
        with running(LAMBDARAG, workdir, fake.url, extra_env=storage, timeout=600) as server:
            pool = [f"What did {n} do about {TOPICS[i % len(TOPICS)]}?"
                    for i, n in enumerate(built["names"])]
            row["queries"] = query_latency(server, ROUNDS, pool=pool, fake=fake)
            row["add"] = incremental_add(server, fake, built["names"])
            row["rss_mb"], row["peak_rss_mb"] = server.rss_mb()
        logger.info("scale %s %d: p50 %s, add %.2f s own", backend, row["entities"],
                    {m: round(row["queries"][m]["p50"]) for m in MODES}, row["add"]["own_s"])
    except Exception as exc:  # noqa: BLE001 - one size failing must not lose the others
        logger.warning("scale %s %d failed: %s", backend, entities, exc)
        row["skipped"] = str(exc).splitlines()[0][:200]
        row.pop("queries", None)
    finally:
        if backend == "aws":
            _cleanup(workdir, env, name)
    return row


def _cleanup(workdir: Path, env: dict[str, str], name: str) -> None:
    """Remove the workspace's items, graph, indices and table from the shared servers."""
    try:
        _seed(workdir, env, "--drop")
    except RuntimeError as exc:
        logger.warning("scale cleanup of %s: %s", name, exc)
    httpx.delete(f"http://127.0.0.1:{LOCAL_AWS['opensearch']}/{name}*", timeout=120)
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{LOCAL_AWS['dynamodb']}",
                          region_name="us-east-1", aws_access_key_id="local",
                          aws_secret_access_key="local")
    try:
        client.delete_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        pass


def run_all(fake: FakeLLMServer, tmp: Path, embedded: list[int], aws: list[int],
            deadline: float | None = None) -> list[dict[str, Any]]:
    fake.delay = 0.0
    rows = []
    plan = [("embedded", n) for n in embedded] + [("aws", n) for n in aws]
    unavailable = aws_available() if aws else None
    for backend, entities in plan:
        if backend == "aws" and unavailable:
            states = unavailable.replace("\n", "; ")
            rows.append({"backend": backend, "entities": entities,
                         "skipped": f"local AWS servers not running ({states}; start them "
                                    "with scripts/services start all)"})
            continue
        if deadline is not None and time.monotonic() > deadline:
            rows.append({"backend": backend, "entities": entities,
                         "skipped": "the run's time budget was used up"})
            continue
        rows.append(one(fake, tmp, backend, entities))
    return rows
