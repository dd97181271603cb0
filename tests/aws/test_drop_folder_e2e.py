"""A file put in the bucket ends ``processed``, through the real trigger, ASL and handlers.

moto runs S3, Lambda and the state machine (infra/statemachine.asl.json); the Lambdas
run functions/trigger and functions/pipeline in this process on the embedded store.
EventBridge -> Lambda delivery is not implemented by moto, so the test delivers the
event S3 would publish by invoking the trigger function with it (the production wiring
is the template's EventBridge rule, checked by cfn-lint in test_template.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

pytest.importorskip("moto")

from lambdarag.config import load_settings  # noqa: E402
from lambdarag.runtime import build_engine  # noqa: E402
from lambdarag.serverless import clients  # noqa: E402
from tests.aws.sfn_harness import REGION, ROOT, SfnHarness  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402

BUCKET = "lambdarag-drop"
TRIGGER = ROOT / "functions" / "trigger" / "handler.py"
DIM = 1024
TEXT = ("Grace Hopper developed the first compiler for the Harvard Mark I. "
        "Grace Hopper later led the COBOL effort at Remington Rand in Philadelphia.")


@pytest.fixture(scope="module")
def harness() -> Iterator[SfnHarness]:
    sfn = SfnHarness().start()
    try:
        sfn.add_pipeline_functions()
        sfn.add_function("TriggerFunction", TRIGGER, "handler", timeout=60)
        sfn.client("s3").create_bucket(Bucket=BUCKET)
        yield sfn
    finally:
        sfn.stop()


@pytest.fixture
def deployment(
    harness: SfnHarness, tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The functions' environment as the template sets it; returns the state machine ARN."""
    arn = harness.create_state_machine(f"indexing-{uuid.uuid4().hex[:8]}")
    env = {"WORKING_DIR": str(tmp_path / "rag"), "INPUT_DIR": str(tmp_path / "inputs"),
           "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
           "EMBEDDING_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_DIM": str(DIM),
           "LLM_MAX_RETRIES": "0", "CHUNK_SIZE": "40", "CHUNK_OVERLAP_SIZE": "5",
           "LAMBDARAG_STATE_MACHINE_ARN": arn, "LAMBDARAG_INPUT_BUCKET": BUCKET,
           "AWS_ENDPOINT_URL": harness.endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "POWERTOOLS_METRICS_NAMESPACE": "LambdaRAGTest"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    clients.reset()
    harness.recycle()
    yield arn
    harness.recycle()
    clients.reset()


def deliver(harness: SfnHarness, kind: str, key: str) -> dict[str, Any]:
    """Invoke the trigger Lambda with the EventBridge event S3 publishes for ``key``."""
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": kind, "source": "aws.s3",
             "account": "123456789012", "time": "2026-11-23T10:00:00Z", "region": REGION,
             "resources": [f"arn:aws:s3:::{BUCKET}"],
             "detail": {"version": "0", "bucket": {"name": BUCKET},
                        "object": {"key": quote_plus(key, safe="/"), "size": len(TEXT)},
                        "request-id": "R1", "requester": "123456789012",
                        "reason": "PutObject" if kind == "Object Created" else "DeleteObject"}}
    response = harness.client("lambda").invoke(FunctionName="TriggerFunction",
                                                Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def wait_all(harness: SfnHarness, arn: str, timeout: float = 90.0) -> list[tuple[str, str]]:
    """(name, status) of every execution once none is running."""
    sfn = harness.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        found = sfn.list_executions(stateMachineArn=arn)["executions"]
        if found and all(e["status"] != "RUNNING" for e in found):
            return sorted((e["name"], e["status"]) for e in found)
        assert time.monotonic() < deadline, found
        time.sleep(0.2)


def snapshot(workspace: str) -> dict[str, Any]:
    """Documents, graph size and pipeline record, read by another process."""

    async def read() -> dict[str, Any]:
        engine = build_engine(load_settings())
        try:
            ws = await engine.workspace(workspace)
            page = await ws.stores.doc_status.page(
                statuses=None, page=1, page_size=100, sort_field="updated_at", sort_direction="desc"
            )
            status = (await ws.refresh_pipeline()).as_dict()
            return {"docs": page.documents, "graph": await ws.stores.graph.counts(),
                    "status": status}
        finally:
            await engine.aclose()

    return asyncio.run(read())


def test_a_dropped_file_is_processed_and_deleting_it_removes_it(
    harness: SfnHarness, deployment: str
) -> None:
    key = "input/research/grace hopper.md"
    harness.client("s3").put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())

    # WHEN S3's event reaches the trigger (twice, as at-least-once delivery allows)
    first = deliver(harness, "Object Created", key)
    second = deliver(harness, "Object Created", key)

    # THEN one execution ran, and the document is processed in workspace "research"
    assert (first["action"], second["action"]) == ("queued", "already_queued")
    [(name, status)] = wait_all(harness, deployment)
    assert status == "SUCCEEDED"
    assert name.startswith(first["doc_ids"][0])
    state = snapshot("research")
    [doc] = state["docs"]
    assert (doc["file_path"], doc["status"]) == ("grace hopper.md", "processed")
    assert doc["chunks_count"] >= 1
    assert state["graph"][0] > 0
    assert (state["status"]["busy"], state["status"]["cur_batch"]) == (False, 1)
    assert state["status"]["history_messages"][-1] == "All documents processed"

    # WHEN the object is deleted from the bucket
    gone = deliver(harness, "Object Deleted", key)

    # THEN the document and its graph are gone
    assert gone["action"] == "deleted"
    after = snapshot("research")
    assert (after["docs"], after["graph"]) == ([], (0, 0))


def test_a_file_the_llm_cannot_index_ends_failed_with_the_reason(
    harness: SfnHarness, deployment: str, fake_llm: FakeLLMServer
) -> None:
    key = "input/outage.md"
    harness.client("s3").put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())
    fake_llm.fail_next(10_000, status=500)
    try:
        deliver(harness, "Object Created", key)
        [(_, status)] = wait_all(harness, deployment, timeout=180)
    finally:
        fake_llm.reset()
    assert status == "FAILED"
    state = snapshot("")
    [doc] = state["docs"]
    assert doc["status"] == "failed"
    assert doc["error_msg"]
    assert state["graph"] == (0, 0)
    assert state["status"]["busy"] is False
