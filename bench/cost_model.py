"""The low-cost tier's AWS bill, from counters measured in a local end-to-end run.

The run is the deployed pipeline as closely as this machine allows: documents are put in
the drop folder (S3 on moto), the trigger Lambda's real handler starts one Step Functions
execution each, moto executes infra/statemachine.asl.json and calls the real step
handlers (tests/aws/sfn_harness.py), and queries go through the real API handler with API
Gateway HTTP API events. The stores are the low-cost tier's: KV, doc status and the graph
on DynamoDB Local, vectors on the local S3 Vectors server over HTTP. The LLM and the
embedder are the tests' fake server (instant, deterministic), so Lambda time is this
code's own time; the LLM's wait is priced separately from the calls counted.

Documents are indexed one after the other. Every "Lambda" here runs in this one Python
process, beside moto and the fake servers, on whatever cores the machine has: executions
run side by side would share one interpreter lock and each would seem to take several
times as long as on Lambda, where each has its own CPU. (Merges of documents that share
entities also wait for each other's leases when run side by side; that wait is billed on
AWS and is not in these figures.)

Counted: DynamoDB read and write request units (ReturnConsumedCapacity on every request,
tests/fakes/aws_meter.py), S3 requests by class, S3 Vectors PutVectors bytes, queries and
the bytes they processed, stored logical bytes, Step Functions state transitions (the
executions' StateEntered events), Lambda invocations and their measured durations times
each function's MemorySize from template.yaml, API requests. Prices: the PRICES table.

    scripts/services start dynamodb
    .venv/bin/python bench/cost_model.py [--docs 20] [--words 2400] [--queries 100]
        [--out docs/COSTS.md] [--json bench/results/cost_model.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.aws.conftest import HOST, require_service  # noqa: E402
from tests.aws.sfn_harness import ROOT as _ROOT  # noqa: E402
from tests.aws.sfn_harness import SfnHarness, _history  # noqa: E402
from tests.aws.test_api_handler import http_event  # noqa: E402
from tests.aws.test_drop_folder_e2e import BUCKET, deliver, wait_all  # noqa: E402
from tests.fakes.aws_meter import AwsMeter  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402
from tests.fakes.s3vectors_server import S3VectorsServer  # noqa: E402

from bench_indexing import corpus  # noqa: E402

PRICE_DATE, REGION = "2026-12-03", "us-east-1"
# USD, us-east-1, on-demand list prices without free tiers. "≈": from a secondary source
# quoting the AWS page; check the sources (docs/COSTS.md lists them) before deciding.
PRICES = {
    "lambda_gb_second": 0.0000133334,      # arm64
    "lambda_request": 0.20 / 1e6,
    "sfn_transition": 0.025 / 1000,        # Standard workflows
    "dynamodb_wru": 0.625 / 1e6,           # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,           # on-demand read request unit
    "dynamodb_gb_month": 0.25,
    "s3_put_class": 0.005 / 1000,          # PUT, COPY, POST, LIST
    "s3_get_class": 0.0004 / 1000,         # GET and the rest
    "s3_gb_month": 0.023,
    "s3vectors_put_gb": 0.20,              # logical bytes uploaded, at least 128 KB a request (≈)
    "s3vectors_gb_month": 0.06,
    "s3vectors_query": 2.50 / 1e6,
    "s3vectors_query_tb": 0.004,           # data processed, first 100k vectors per index (≈)
    "api_request": 1.00 / 1e6,             # HTTP API
    "secret_month": 0.40,
    "secret_call": 0.05 / 10000,
}
MEMORY_MB = {"lambdarag-prepare": "PrepareFunction", "lambdarag-extract": "ExtractFunction",
             "lambdarag-merge": "MergeFunction", "lambdarag-finalize": "FinalizeFunction",
             "lambdarag-fail": "FailFunction", "TriggerFunction": "TriggerFunction",
             "ApiFunction": "ApiFunction"}
S3_GET_CLASS = ("GetObject", "HeadObject", "HeadBucket")
MODES = ["naive", "local", "global", "hybrid", "mix"]
DIM = 1536  # the template's default (text-embedding-3-small)
API_KEY = "cost-model-key-" + "k" * 32


@dataclass
class Phase:
    """What one phase (indexing, or querying) consumed."""

    requests: dict[str, int] = field(default_factory=dict)
    dynamodb_rru: float = 0.0
    dynamodb_wru: float = 0.0
    dynamodb_by_table: dict[str, float] = field(default_factory=dict)  # "reads:state", ...
    lambda_ms: dict[str, float] = field(default_factory=dict)
    lambda_calls: dict[str, int] = field(default_factory=dict)
    cold_starts: int = 0
    transitions: int = 0
    s3vectors: dict[str, int] = field(default_factory=dict)
    llm_calls: int = 0
    embedding_requests: int = 0


def memory_sizes() -> dict[str, int]:
    """MemorySize (MB) per function in template.yaml (Globals as the default)."""
    from cfnlint.decode import decode

    template, _ = decode(str(ROOT / "template.yaml"))
    default = template["Globals"]["Function"]["MemorySize"]
    functions = template["Resources"]
    return {name: int(functions[resource]["Properties"].get("MemorySize", default))
            for name, resource in MEMORY_MB.items()}


class TimedHarness(SfnHarness):
    """The harness, timing every invocation (init of a cold environment included)."""

    def __init__(self) -> None:
        super().__init__()
        self.durations: list[tuple[str, float]] = []

    def _invoke(self, name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        started = time.perf_counter()
        try:
            return super()._invoke(name, body, response_headers)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            with self._lock:
                self.durations.append((name, elapsed))


def documents(count: int, words: int) -> dict[str, str]:
    """``count`` documents of about ``words`` words from bench_indexing's generator."""
    pieces = list(corpus(count * max(1, math.ceil(words / 600))).values())
    per = len(pieces) // count
    return {f"doc{d:04d}.txt": " ".join(pieces[d * per:(d + 1) * per]) for d in range(count)}


def questions(count: int) -> list[tuple[str, str]]:
    rng = random.Random(3)
    subjects = ["Acme Corp", "Helix Labs", "Alice Smith", "Chen Okafor", "Berlin", "quantum sensors"]
    topics = ["funding", "visits", "programmes", "partners", "last year", "places", "advice"]
    return [(f"What do the reports say about {rng.choice(subjects)} and {rng.choice(topics)} "
             f"(question {i})?", MODES[i % len(MODES)]) for i in range(count)]


def environment(harness: SfnHarness, fake: FakeLLMServer, vectors: S3VectorsServer,
                arn: str, work: Path, table: str, dynamodb_port: int) -> dict[str, str]:
    """The functions' environment as the template's lowcost tier sets it (endpoints local)."""
    return {
        "WORKING_DIR": str(work / "rag"), "INPUT_DIR": str(work / "inputs"),
        "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake.openai_url,
        "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_BINDING_HOST": fake.openai_url, "EMBEDDING_DIM": str(DIM),
        "LLM_MAX_RETRIES": "0", "LIGHTRAG_API_KEY": API_KEY,
        "LAMBDARAG_STATE_MACHINE_ARN": arn, "LAMBDARAG_INPUT_BUCKET": BUCKET,
        "LAMBDARAG_PIPELINE_STATUS": "shared",
        "LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage", "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage",
        "LIGHTRAG_VECTOR_STORAGE": "S3VectorsStorage", "LIGHTRAG_GRAPH_STORAGE": "DynamoDBGraphStorage",
        "LAMBDARAG_DYNAMODB_TABLE": table, "DYNAMODB_ENDPOINT_URL": f"http://{HOST}:{dynamodb_port}",
        "LAMBDARAG_DYNAMODB_BLOB_BUCKET": BUCKET, "LAMBDARAG_DYNAMODB_BLOB_PREFIX": "dynamodb-blobs/",
        "S3VECTORS_ENDPOINT_URL": vectors.url, "LAMBDARAG_S3VECTORS_BUCKET": "lr-cost",
        "AWS_ENDPOINT_URL": harness.endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "LambdaRAGCost", "LOG_LEVEL": "WARNING",
        # as the template: the stack owns the tables and the vector bucket
        "LAMBDARAG_DYNAMODB_CREATE_TABLE": "false", "LAMBDARAG_S3VECTORS_CREATE_BUCKET": "false",
    }


def provision(table: str, port: int, vectors: S3VectorsServer) -> None:
    """What the stack creates at deploy time: both tables and the vector bucket."""
    import boto3

    from lambdarag.storage.dynamodb import table_definition
    from lambdarag.storage.dynamodb.graph import graph_definition

    client = boto3.client("dynamodb", endpoint_url=f"http://{HOST}:{port}", region_name=REGION,
                          aws_access_key_id="l", aws_secret_access_key="l")
    client.create_table(**table_definition(table))
    client.create_table(**graph_definition(f"{table}-graph"))
    vectors.call("CreateVectorBucket", {"vectorBucketName": "lr-cost"})


def phase_delta(meter: AwsMeter, harness: TimedHarness, vectors: S3VectorsServer,
                fake: FakeLLMServer, marks: dict[str, Any]) -> Phase:
    """What was consumed since ``marks`` (a previous :func:`marks_of`)."""
    now = marks_of(meter, harness, vectors, fake)
    phase = Phase()
    phase.requests = dict(now["requests"] - marks["requests"])
    units = now["capacity"] - marks["capacity"]
    phase.dynamodb_rru = sum(v for k, v in units.items() if k.startswith("reads:"))
    phase.dynamodb_wru = sum(v for k, v in units.items() if k.startswith("writes:"))
    for key, value in units.items():
        kind, table = key.split(":", 1)
        name = f"{kind}:{'graph' if table.endswith('-graph') else 'state'}"
        phase.dynamodb_by_table[name] = phase.dynamodb_by_table.get(name, 0.0) + value
    for name, ms in harness.durations[marks["durations"]:]:
        phase.lambda_ms[name] = phase.lambda_ms.get(name, 0.0) + math.ceil(ms)
        phase.lambda_calls[name] = phase.lambda_calls.get(name, 0) + 1
    phase.cold_starts = sum(1 for call in harness.invocations[marks["invocations"]:] if call.cold_start)
    phase.s3vectors = dict(now["vectors"] - marks["vectors"])
    llm = [path for path, _ in fake.requests[marks["llm"]:]]
    phase.llm_calls = sum(1 for path in llm if "embed" not in path)
    phase.embedding_requests = sum(1 for path in llm if "embed" in path)
    return phase


def marks_of(meter: AwsMeter, harness: TimedHarness, vectors: S3VectorsServer,
             fake: FakeLLMServer) -> dict[str, Any]:
    requests, capacity = meter.snapshot()
    return {"requests": requests, "capacity": capacity, "durations": len(harness.durations),
            "invocations": len(harness.invocations), "vectors": Counter(vectors.counters),
            "llm": len(fake.requests)}


def api_call(harness: SfnHarness, method: str, path: str, body: Any = None) -> dict[str, Any]:
    event = http_event(method, path, json.dumps(body) if body is not None else None,
                       {"x-api-key": API_KEY, "content-type": "application/json"}, "", False)
    response = harness.client("lambda").invoke(FunctionName="ApiFunction",
                                               Payload=json.dumps(event).encode())
    answer = json.loads(response["Payload"].read())
    if "FunctionError" in response or answer.get("statusCode") != 200:
        raise RuntimeError(f"{method} {path}: {answer}")
    return answer


def stored_bytes(table: str, dynamodb_port: int) -> int:
    """DynamoDB's billable size of both tables: attribute names and values, +100 B an item."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://{HOST}:{dynamodb_port}",
                          region_name=REGION, aws_access_key_id="l", aws_secret_access_key="l")
    total = 0
    for name in (table, f"{table}-graph"):
        for page in client.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                total += 100 + sum(len(k) + len(next(iter(v.values())).encode("utf-8"))
                                   for k, v in item.items())
    return total


def measure(n_docs: int, words: int, n_queries: int) -> dict[str, Any]:
    dynamodb_port = int(os.environ.get("LAMBDARAG_DYNAMODB_PORT", "8000"))
    require_service("dynamodb", dynamodb_port)
    table = f"lrcost-{uuid.uuid4().hex[:8]}"
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"lambdarag-cost-{uuid.uuid4().hex[:6]}"
    docs = documents(n_docs, words)
    with FakeLLMServer(dim=DIM) as fake, S3VectorsServer() as vectors:
        harness = TimedHarness().start()
        try:
            harness.add_pipeline_functions()
            harness.add_function("TriggerFunction", _ROOT / "functions/trigger/handler.py", "handler")
            harness.add_function("ApiFunction", _ROOT / "functions/api/handler.py", "handler")
            harness.client("s3").create_bucket(Bucket=BUCKET)
            provision(table, dynamodb_port, vectors)
            arn = harness.create_state_machine(f"indexing-{uuid.uuid4().hex[:8]}")
            os.environ.update(environment(harness, fake, vectors, arn, work, table, dynamodb_port))
            from lambdarag.serverless import clients

            clients.reset()
            harness.recycle()
            meter = AwsMeter()
            with meter.installed():
                s3 = harness.client("s3")
                start = marks_of(meter, harness, vectors, fake)
                for name, text in docs.items():  # one at a time: see the module docstring
                    key = f"input/{name}"
                    s3.put_object(Bucket=BUCKET, Key=key, Body=text.encode())
                    deliver(harness, "Object Created", key)
                    executions = wait_all(harness, arn, timeout=300)
                assert all(status == "SUCCEEDED" for _, status in executions), executions
                sfn = harness.client("stepfunctions")
                transitions = 0
                for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
                    transitions += sum(1 for event in _history(sfn, execution["executionArn"])
                                       if event["type"].endswith("StateEntered"))
                indexing = phase_delta(meter, harness, vectors, fake, start)
                indexing.transitions = transitions
                listed = api_call(harness, "POST", "/documents/paginated",
                                  {"page": 1, "page_size": 100})
                statuses = Counter(d["status"] for d in json.loads(listed["body"])["documents"])
                chunks = sum(d.get("chunks_count") or 0 for d in json.loads(listed["body"])["documents"])
                before = marks_of(meter, harness, vectors, fake)
                for question, mode in questions(n_queries):
                    api_call(harness, "POST", "/query", {"query": question, "mode": mode})
                querying = phase_delta(meter, harness, vectors, fake, before)
            storage = {"dynamodb": stored_bytes(table, dynamodb_port),
                       "s3vectors": vectors.stored_bytes(),
                       "s3": sum(o["Size"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])),
                       "vectors": sum(len(i.vectors) for b in vectors.store.buckets.values()
                                      for i in b.values())}
        finally:
            harness.stop()
            _drop_tables(table, dynamodb_port)
    return {"docs": n_docs, "words_per_doc": words, "queries": n_queries, "chunks": chunks,
            "statuses": dict(statuses), "indexing": asdict(indexing), "querying": asdict(querying),
            "storage_bytes": storage, "memory_mb": memory_sizes(), "dim": DIM,
            "commit": _commit(), "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _drop_tables(table: str, port: int) -> None:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=f"http://{HOST}:{port}", region_name=REGION,
                          aws_access_key_id="l", aws_secret_access_key="l")
    for name in (table, f"{table}-graph"):
        try:
            client.delete_table(TableName=name)
        except client.exceptions.ResourceNotFoundException:
            pass


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "layers", "functions", "infra"],
                           cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+changes" if dirty else "")


# -- pricing ---------------------------------------------------------------------------


def price_phase(phase: dict[str, Any], memory: dict[str, int], scale: float) -> dict[str, float]:
    """USD per line item for ``phase``'s counters, multiplied by ``scale``."""
    requests = Counter(phase["requests"])
    s3_get = sum(n for op, n in requests.items() if op.startswith("s3:") and op.endswith(S3_GET_CLASS))
    s3_put = sum(n for op, n in requests.items() if op.startswith("s3:")) - s3_get
    gb_s = sum(ms / 1000 * memory[name] / 1024 for name, ms in phase["lambda_ms"].items())
    calls = sum(phase["lambda_calls"].values())
    vectors = phase["s3vectors"]
    items = {
        "Lambda GB-seconds": gb_s * PRICES["lambda_gb_second"],
        "Lambda requests": calls * PRICES["lambda_request"],
        "Step Functions transitions": phase["transitions"] * PRICES["sfn_transition"],
        "DynamoDB write units": phase["dynamodb_wru"] * PRICES["dynamodb_wru"],
        "DynamoDB read units": phase["dynamodb_rru"] * PRICES["dynamodb_rru"],
        "S3 requests": s3_put * PRICES["s3_put_class"] + s3_get * PRICES["s3_get_class"],
        "S3 Vectors PUT": vectors.get("put_billed_bytes", 0) / 1e9 * PRICES["s3vectors_put_gb"],
        "S3 Vectors queries": vectors.get("queries", 0) * PRICES["s3vectors_query"]
        + vectors.get("query_scanned_bytes", 0) / 1e12 * PRICES["s3vectors_query_tb"],
        "Secrets Manager (a read per cold start)": phase["cold_starts"] * PRICES["secret_call"],
    }
    return {key: value * scale for key, value in items.items()}


def quantities(phase: dict[str, Any], memory: dict[str, int], scale: float) -> dict[str, str]:
    requests = Counter(phase["requests"])
    s3 = sum(n for op, n in requests.items() if op.startswith("s3:"))
    gb_s = sum(ms / 1000 * memory[name] / 1024 for name, ms in phase["lambda_ms"].items())
    vectors = phase["s3vectors"]
    return {
        "Lambda GB-seconds": f"{gb_s * scale:,.0f} GB-s",
        "Lambda requests": f"{sum(phase['lambda_calls'].values()) * scale:,.0f}",
        "Step Functions transitions": f"{phase['transitions'] * scale:,.0f}",
        "DynamoDB write units": f"{phase['dynamodb_wru'] * scale:,.0f} WRU",
        "DynamoDB read units": f"{phase['dynamodb_rru'] * scale:,.0f} RRU",
        "S3 requests": f"{s3 * scale:,.0f}",
        "S3 Vectors PUT": f"{vectors.get('requests:PutVectors', 0) * scale:,.0f} requests, "
                          f"{vectors.get('put_bytes', 0) * scale / 1e6:,.1f} MB "
                          f"({vectors.get('put_billed_bytes', 0) * scale / 1e6:,.0f} MB billed)",
        "S3 Vectors queries": f"{vectors.get('queries', 0) * scale:,.0f} queries, "
                              f"{vectors.get('query_scanned_bytes', 0) * scale / 1e9:,.2f} GB processed",
        "Secrets Manager (a read per cold start)": f"{phase['cold_starts'] * scale:,.0f} reads",
    }


def write_report(data: dict[str, Any], out: Path) -> None:
    from cost_report import render

    out.write_text(render(data, PRICES, PRICE_DATE, REGION, price_phase, quantities), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--words", type=int, default=2400)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "COSTS.md")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "cost_model.json")
    parser.add_argument("--from-json", type=Path, help="render the report from an earlier run")
    args = parser.parse_args(argv)
    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        data = measure(args.docs, args.words, args.queries)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_report(data, args.out)
    sys.stdout.write(f"wrote {args.out} ({data['docs']} documents, {data['queries']} queries)\n")


if __name__ == "__main__":
    main()
