"""infra/statemachine.asl.json executed by moto's Step Functions with the real pipeline handlers.

The handlers run in the test process (tests/aws/sfn_harness.py) on the embedded store in
tmp_path, against the fake LLM server. Nothing here needs the services of tests/aws/conftest.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lambdarag.config import load_settings
from lambdarag.documents import lifecycle as documents
from lambdarag.llm.base import LLMUnavailableError
from lambdarag.pipeline import runner
from lambdarag.pipeline.steps import PipelineError
from lambdarag.query.answer import retrieve_context
from lambdarag.query.param import QueryParam
from lambdarag.runtime import build_engine
from lambdarag.storage.base import StoreUnavailableError
from lambdarag.storage.leases import LeaseLostError
from lambdarag.workspace.workspace import Workspace
from tests.aws.sfn_harness import (
    ASL_PATH,
    PIPELINE_FUNCTIONS,
    SfnHarness,
    history_events,
    retriers,
    substitute,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM
from tests.functional.corpus import CORPUS

T = TypeVar("T")
WORKSPACE = "tenant_sfn"
PREPARE, EXTRACT, MERGE, FINALIZE, FAIL = (name for name, _ in PIPELINE_FUNCTIONS.values())
# One document long enough for several extract batches and two merge shards (> 8 chunks).
LONG_TEXT = "\n".join([*CORPUS.values()] * 5)
# Keys whose values are times: they may differ between two runs that change nothing.
TIME_KEYS = {"created_at", "updated_at", "process_start_time", "process_end_time",
             "create_time", "update_time", "timestamp"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def harness() -> Iterator[SfnHarness]:
    sfn = SfnHarness().start()
    try:
        sfn.add_pipeline_functions()
        yield sfn
    finally:
        sfn.stop()


@pytest.fixture
def state_machine(harness: SfnHarness) -> str:
    """A fresh state machine per test: execution names (doc ids) are unique per machine."""
    return harness.create_state_machine(f"lambdarag-pipeline-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def working_dir(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, harness: SfnHarness
) -> Iterator[Path]:
    """The handlers' environment: embedded store in tmp_path, the fake LLM, small chunks."""
    env = {"WORKING_DIR": str(tmp_path / "rag"), "INPUT_DIR": str(tmp_path / "inputs"),
           "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
           "EMBEDDING_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_DIM": str(DIM),
           "LLM_MAX_RETRIES": "0", "CHUNK_SIZE": "40", "CHUNK_OVERLAP_SIZE": "5",
           "EXTRACT_BATCH_SIZE": "3", "POWERTOOLS_METRICS_NAMESPACE": "LambdaRAGTest"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    harness.recycle()
    harness.invocations.clear()
    yield tmp_path / "rag"
    harness.recycle()


def with_workspace(fn: Callable[[Workspace], Awaitable[T]], workspace: str = WORKSPACE) -> T:
    """Run ``fn(ws)`` on a fresh Engine over the same store (another process, in effect)."""

    async def run() -> T:
        engine = build_engine(load_settings())
        try:
            return await fn(await engine.workspace(workspace))
        finally:
            await engine.aclose()

    return asyncio.run(run())


def enqueue(name: str, text: str, workspace: str = WORKSPACE) -> str:
    async def run(ws: Workspace) -> str:
        result = await documents.enqueue(ws, [documents.NewDocument(name, text)], "track_sfn")
        return result.doc_ids[0]

    return with_workspace(run, workspace)


def execute(harness: SfnHarness, sm: str, doc_id: str, name: str | None = None,
            workspace: str = WORKSPACE) -> tuple[str, Any, list[dict[str, Any]]]:
    arn = harness.start_execution(sm, name or doc_id, {"workspace": workspace, "doc_id": doc_id})
    return harness.wait(arn)


def doc_status(doc_id: str) -> dict[str, Any]:
    async def run(ws: Workspace) -> dict[str, Any]:
        return dict(await ws.stores.doc_status.get(doc_id) or {})

    return with_workspace(run)


def graph_of(workspace: str = WORKSPACE) -> tuple[set[str], set[frozenset[str]]]:
    """Entity names and (undirected) relation pairs in the graph."""

    async def run(ws: Workspace) -> tuple[set[str], set[frozenset[str]]]:
        names = await ws.stores.graph.all_labels()
        edges = await ws.stores.graph.node_edges(names)
        return set(names), {frozenset(p) for pairs in edges.values() for p in pairs}

    return with_workspace(run, workspace)


def snapshot(working_dir: Path, workspace: str = WORKSPACE) -> dict[str, Any]:
    """Every row of the workspace's SQLite file, JSON values without their time keys."""
    conn = sqlite3.connect(working_dir / workspace / "lambdarag.sqlite3")
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {table: _rows(conn, table) for table in tables}
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, table: str) -> list[str]:
    cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
    columns = [c[0] for c in cursor.description]
    return sorted(repr({c: _timeless(v) for c, v in zip(columns, row, strict=True) if c not in TIME_KEYS})
                  for row in cursor)


def _timeless(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(_strip(json.loads(value)), sort_keys=True)
        except ValueError:
            return value
    return value


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIME_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def map_iterations(history: list[dict[str, Any]], state: str) -> int:
    """How many iterations the Map state ``state`` started, from the execution history."""
    entered = [e for e in history if e["type"] == "MapStateEntered"
               and e["stateEnteredEventDetails"]["name"] == state]
    assert len(entered) == 1, f"{state} entered {len(entered)} times"
    start = history.index(entered[0])
    exited = next(i for i, e in enumerate(history) if i > start and e["type"] == "MapStateExited"
                  and e["stateExitedEventDetails"]["name"] == state)
    return len([e for e in history[start:exited] if e["type"] == "MapIterationStarted"])


def lambda_scheduled(history: list[dict[str, Any]], function: str) -> int:
    return len([e for e in history_events(history, "LambdaFunctionScheduled")
                if e["lambdaFunctionScheduledEventDetails"]["resource"].endswith(f":{function}")])


# --------------------------------------------------------------------------- the definition


def test_definition_keeps_the_sam_placeholders_and_never_retries_permanent_errors() -> None:
    # GIVEN the production definition, as the SAM template substitutes it
    text = ASL_PATH.read_text()
    values = {key: f"arn:aws:lambda:us-east-1:1:function:{key}" for key in PIPELINE_FUNCTIONS}
    values.update(ExtractConcurrency=7, MergeConcurrency=3)
    definition = json.loads(substitute(text, values))
    # THEN it needs exactly the colleague's placeholders, and every task retries with backoff,
    # never retrying an error that cannot succeed, and is caught to Fail
    assert definition["States"]["Extract"]["MaxConcurrency"] == 7
    assert definition["States"]["MergeRelations"]["MaxConcurrency"] == 3
    tasks = {name for name, _ in retriers(definition)}
    assert tasks == {"Prepare", "ExtractBatch", "MergeEntityShard", "MergeRelationShard",
                     "Finalize", "Fail"}
    for name in tasks:
        rules = [r for state, r in retriers(definition) if state == name]
        assert rules[0]["MaxAttempts"] == 0 and "PipelineError" in rules[0]["ErrorEquals"], name
        assert "Lambda.TooManyRequestsException" in rules[1]["ErrorEquals"], name
        assert all(r.get("BackoffRate", 2.0) > 1 for r in rules[1:]), name
    for name in ("Prepare", "Extract", "MergeEntities", "MergeRelations", "Finalize"):
        assert definition["States"][name]["Catch"][0]["Next"] == "Fail"
    assert definition["States"]["Failed"]["Type"] == "Fail"


# --------------------------------------------------------------------------- executions


def test_execution_indexes_a_document_like_the_local_runner(
    harness: SfnHarness, state_machine: str, working_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a document enqueued through the engine
    doc_id = enqueue("long.txt", LONG_TEXT)
    # WHEN an execution named from its doc id runs
    status, output, history = execute(harness, state_machine, doc_id)
    # THEN it succeeds, and the document is processed with its chunks
    assert status == "SUCCEEDED", output
    record = doc_status(doc_id)
    assert record["status"] == "processed" and record.get("error_msg") is None
    assert record["chunks_count"] == len(record["chunks_list"]) > 8
    assert output == {"doc_id": doc_id, "status": "processed", "chunks_count": record["chunks_count"]}
    # AND the Map states ran one iteration per extract batch and per merge shard
    plan = harness.calls(PREPARE)[0].result
    assert len(plan["extract_batches"]) == -(-record["chunks_count"] // 3)
    assert len(plan["merge_entities"]) == len(plan["merge_relations"]) == 2
    assert map_iterations(history, "Extract") == len(plan["extract_batches"])
    assert map_iterations(history, "MergeEntities") == len(plan["merge_entities"])
    assert map_iterations(history, "MergeRelations") == len(plan["merge_relations"])
    assert lambda_scheduled(history, EXTRACT) == len(plan["extract_batches"])
    assert lambda_scheduled(history, MERGE) == 4
    assert {json.dumps(c.event, sort_keys=True) for c in harness.calls(EXTRACT)} == {
        json.dumps(item, sort_keys=True) for item in plan["extract_batches"]}
    # AND the graph equals what the local runner builds from the same document
    names, pairs = graph_of()
    monkeypatch.setenv("WORKING_DIR", str(tmp_path / "local"))
    local_id = enqueue("long.txt", LONG_TEXT)
    assert local_id == doc_id
    assert with_workspace(lambda ws: runner.run_document(ws, {"workspace": WORKSPACE,
                                                              "doc_id": doc_id}))["status"] == "processed"
    assert (names, pairs) == graph_of()
    assert {"Acme Corp", "Alice Smith", "Bob Jones"} <= names and pairs
    # AND a query finds the indexed entities
    monkeypatch.setenv("WORKING_DIR", str(working_dir))
    found = with_workspace(lambda ws: retrieve_context(ws, "Who founded Acme Corp?",
                                                       QueryParam(mode="local")))
    assert found is not None
    assert "Acme Corp" in {e.get("entity_name") for e in found.entities}


def test_a_failing_llm_fails_the_execution_and_the_document_without_half_writes(
    harness: SfnHarness, state_machine: str, working_dir: Path, fake_llm: FakeLLMServer
) -> None:
    # GIVEN a document whose extraction meets an LLM answering 500 to everything
    doc_id = enqueue("acme.txt", CORPUS["acme.txt"] * 3)
    harness.fail_next(EXTRACT, lambda event: fake_llm.fail_next(1000, status=500), times=1000)
    # WHEN the execution runs
    status, output, history = execute(harness, state_machine, doc_id)
    fake_llm.reset()
    # THEN the execution fails with the binding's error after the Retry attempts
    assert status == "FAILED"
    assert output["error"] == "LLMUnavailableError"
    assert json.loads(output["cause"])["errorType"] == "LLMUnavailableError"
    batches = len(harness.calls(PREPARE)[0].result["extract_batches"])
    assert len(harness.calls(EXTRACT)) >= 6  # 1 + 5 retries of at least one batch
    assert {c.error_type for c in harness.calls(EXTRACT)} == {"LLMUnavailableError"}
    assert batches >= 1 and not harness.calls(MERGE) and not harness.calls(FINALIZE)
    # AND the document is FAILED with the runner's reason, the binding's own message
    record = doc_status(doc_id)
    message = json.loads(output["cause"])["errorMessage"]
    assert record["status"] == "failed"
    assert record["error_msg"] == message and not message.startswith("LLMUnavailableError")
    assert "LLM_BINDING_HOST" in record["error_msg"]
    # AND nothing was half-written: no graph, no entity or relation vectors
    assert graph_of() == (set(), set())

    async def vector_counts(ws: Workspace) -> tuple[int, int]:
        return await ws.stores.entities_vdb.count(), await ws.stores.relationships_vdb.count()

    assert with_workspace(vector_counts) == (0, 0)
    assert [e["type"] for e in history][-1] == "ExecutionFailed"


def test_a_permanent_error_is_not_retried(
    harness: SfnHarness, state_machine: str, working_dir: Path
) -> None:
    # GIVEN prepare raising the engine's PipelineError (a document that can never index)
    doc_id = enqueue("acme.txt", CORPUS["acme.txt"])
    harness.fail_next(PREPARE, PipelineError("Document has no text content"))
    # WHEN the execution runs
    status, output, _ = execute(harness, state_machine, doc_id)
    # THEN prepare ran once, and the document carries the message as the runner words it
    assert status == "FAILED" and output["error"] == "PipelineError"
    assert len(harness.calls(PREPARE)) == 1
    assert [c.event["doc_id"] for c in harness.calls(FAIL)] == [doc_id]
    assert doc_status(doc_id)["error_msg"] == "Document has no text content"


def test_a_transient_failure_is_retried_and_the_execution_succeeds(
    harness: SfnHarness, state_machine: str, working_dir: Path
) -> None:
    # GIVEN an extract and a merge invocation that each fail once, as a throttled call would
    doc_id = enqueue("berlin.txt", CORPUS["berlin.txt"])
    harness.fail_next(EXTRACT, LLMUnavailableError("LLM host (LLM_BINDING_HOST) answered 429"))
    harness.fail_next(MERGE, RuntimeError("connection reset"))  # States.TaskFailed
    # WHEN the execution runs
    status, output, history = execute(harness, state_machine, doc_id)
    # THEN both were retried and the execution succeeded
    assert status == "SUCCEEDED", output
    assert [c.error_type for c in harness.calls(EXTRACT)][0] == "LLMUnavailableError"
    assert [c.error_type for c in harness.calls(MERGE)][0] == "RuntimeError"
    failed = history_events(history, "LambdaFunctionFailed")
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == [
        "LLMUnavailableError", "RuntimeError"]
    batches = len(harness.calls(PREPARE)[0].result["extract_batches"])
    assert lambda_scheduled(history, EXTRACT) == batches + 1
    assert doc_status(doc_id)["status"] == "processed"
    assert not harness.calls(FAIL)


def test_lost_leases_and_unreachable_stores_are_retried_with_backoff(
    harness: SfnHarness, state_machine: str, working_dir: Path
) -> None:
    # GIVEN a prepare that cannot reach its store (an S3 read throttled, say) and a merge
    # whose lease was taken over while it stalled, each three times in a row: more than the
    # generic States.TaskFailed rule retries, within the transient-error rule
    doc_id = enqueue("berlin.txt", CORPUS["berlin.txt"])
    harness.fail_next(PREPARE, StoreUnavailableError("cannot read s3://b/input/x now: SlowDown"),
                      times=3)
    harness.fail_next(MERGE, LeaseLostError("lost the lock on e:Berlin to another process"),
                      times=3)
    # WHEN the execution runs
    status, output, history = execute(harness, state_machine, doc_id)
    # THEN both were retried by the transient-error rule, and the document is processed
    assert status == "SUCCEEDED", output
    failed = history_events(history, "LambdaFunctionFailed")
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == [
        "StoreUnavailableError"] * 3 + ["LeaseLostError"] * 3
    assert doc_status(doc_id)["status"] == "processed"


def test_a_second_execution_for_a_processed_document_changes_nothing(
    harness: SfnHarness, state_machine: str, working_dir: Path
) -> None:
    # GIVEN two processed documents sharing entities
    ids = [enqueue(name, CORPUS[name]) for name in ("acme.txt", "jones.txt")]
    for doc_id in ids:
        assert execute(harness, state_machine, doc_id)[0] == "SUCCEEDED"
    before = snapshot(working_dir)
    # WHEN the first one is run again under a new execution name
    status, _, _ = execute(harness, state_machine, ids[0], name=f"{ids[0]}-retry-1")
    # THEN it succeeds and no store changed (times aside)
    assert status == "SUCCEEDED"
    after = snapshot(working_dir)
    changed = {t for t in before if before[t] != after.get(t)}
    assert not changed, {t: (set(after[t]) ^ set(before[t])) for t in changed}


def test_starting_the_same_execution_name_twice(
    harness: SfnHarness, state_machine: str, working_dir: Path, fake_llm: FakeLLMServer
) -> None:
    # GIVEN a running execution (a slow LLM keeps it running)
    doc_id = enqueue("jones.txt", CORPUS["jones.txt"])
    execution_input = {"workspace": WORKSPACE, "doc_id": doc_id}
    fake_llm.chat_delay = 1.0
    first = harness.start_execution(state_machine, doc_id, execution_input)
    # WHEN the same name and input are started again while it runs
    # THEN AWS's documented idempotency holds: the same execution comes back
    assert harness.start_execution(state_machine, doc_id, execution_input) == first
    sfn = harness.client("stepfunctions")
    # AND other input under the same name is refused
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        harness.start_execution(state_machine, doc_id, {**execution_input, "x": 1})
    fake_llm.chat_delay = 0.0
    assert harness.wait(first)[0] == "SUCCEEDED"
    # AND once it has finished, even the same input is refused
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        harness.start_execution(state_machine, doc_id, execution_input)
    assert len(harness.calls(PREPARE)) == 1


def test_an_invalid_task_input_fails_at_once_with_the_field_named(
    harness: SfnHarness, state_machine: str, working_dir: Path
) -> None:
    # GIVEN an execution input whose workspace is not a valid name
    doc_id = enqueue("acme.txt", CORPUS["acme.txt"])
    # WHEN it runs
    status, output, _ = execute(harness, state_machine, doc_id, name="bad-ws", workspace="../x")
    # THEN prepare fails once with a ValueError naming the field, and Fail fails the same way
    assert status == "FAILED" and output["error"] == "ValueError"
    assert "workspace" in json.loads(output["cause"])["errorMessage"]
    assert len(harness.calls(PREPARE)) == 1
    assert doc_status(doc_id)["status"] == "pending"
