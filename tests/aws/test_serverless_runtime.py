"""The serverless runtime's intake: API uploads and the S3 drop folder start executions.

S3, Step Functions and Secrets Manager are moto's (in-process); the stores are the
embedded ones and the LLM is the fake server, so what is checked here is the engine's
side: objects, doc status records, execution names and inputs, the shared pipeline
record. tests/aws/test_state_machine.py runs the executions themselves.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("moto")
import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from lambdarag.api.app import create_app  # noqa: E402
from lambdarag.config import Settings  # noqa: E402
from lambdarag.documents import lifecycle as documents  # noqa: E402
from lambdarag.documents.lifecycle import NewDocument  # noqa: E402
from lambdarag.pipeline import steps as pipeline  # noqa: E402
from lambdarag.pipeline.runner import run_document  # noqa: E402
from lambdarag.runtime import build_engine  # noqa: E402
from lambdarag.runtime.engine import Engine  # noqa: E402
from lambdarag.serverless import clients  # noqa: E402
from lambdarag.serverless.bootstrap import SecretFormatError, load_secrets  # noqa: E402
from lambdarag.serverless.sfn import execution_name  # noqa: E402
from lambdarag.serverless.steps import run_step  # noqa: E402
from lambdarag.workspace.workspace import Workspace  # noqa: E402
from tests.aws.conftest import running_trigger  # noqa: E402
from tests.fakes.llm_server import FakeLLMServer  # noqa: E402
from tests.functional.conftest import fake_settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "lambdarag-input"
REGION = "us-east-1"
TEXT = (
    "Ada Lovelace worked with Charles Babbage on the Analytical Engine in London. "
    "She wrote the first published algorithm for the machine."
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto S3 bucket + a state machine (executions are recorded, not run)."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    clients.reset()
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        role = boto3.client("iam").create_role(
            RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = boto3.client("stepfunctions").create_state_machine(
            name="indexing", roleArn=role,
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        )["stateMachineArn"]
        yield {"arn": arn}
    clients.reset()


@pytest.fixture
def settings(tmp_path: Path, fake_llm: FakeLLMServer, aws: dict[str, str]) -> Settings:
    return fake_settings(tmp_path, fake_llm, lambdarag_state_machine_arn=aws["arn"],
                         lambdarag_input_bucket=BUCKET)


@pytest.fixture
def trigger(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """functions/trigger/handler.py, imported by path, building its engine from ``settings``."""
    with running_trigger(monkeypatch, settings) as module:
        yield module


def _run(trigger: ModuleType, coroutine: Any) -> Any:
    """Await ``coroutine`` on the handler's own loop (where its engine lives)."""
    return trigger._loop.run_until_complete(coroutine)


class Context:
    function_name = "TriggerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:TriggerFunction"
    aws_request_id = "req-1"


def s3_event(kind: str, key: str, bucket: str = BUCKET) -> dict[str, Any]:
    """An EventBridge S3 event as AWS delivers it (the key URL-encoded)."""
    return {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": kind, "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-23T10:00:00Z", "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": quote_plus(key, safe="/"), "size": 120,
                              "etag": "b1946ac92492d2347c6235b4d2611184",
                              "sequencer": "00617F08299329D189"},
                   "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
                   "source-ip-address": "1.2.3.4",
                   "reason": "PutObject" if kind == "Object Created" else "DeleteObject"},
    }


def _invoke(trigger: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    return trigger.handler(event, Context())


def _executions(arn: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [{**e, "input": json.loads(sfn.describe_execution(executionArn=e["executionArn"])
                                      ["input"])} for e in found]


# ---------------------------------------------------------------------------- API


def test_an_api_upload_lands_in_the_bucket_and_starts_one_execution(
    settings: Settings, aws: dict[str, str], trigger: ModuleType
) -> None:
    with TestClient(create_app(settings)) as client:
        # WHEN a file is uploaded through the API
        response = client.post("/documents/upload",
                               files={"file": ("ada notes.txt", TEXT.encode(), "text/plain")})
        assert response.status_code == 200, response.text
        status = client.get("/documents/pipeline_status").json()
        docs = client.post("/documents/paginated", json={}).json()["documents"]

    # THEN the file is in the drop folder, its document is PENDING with the object as
    # source, and one execution was started for it, named from the document
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="input/ada notes.txt")["Body"]
    assert body.read() == TEXT.encode()
    [doc] = docs
    assert (doc["file_path"], doc["status"]) == ("ada notes.txt", "pending")
    [execution] = _executions(aws["arn"])
    assert execution["input"] == {"workspace": "", "doc_id": doc["id"]}
    assert execution["name"] == execution_name("", doc["id"], doc["updated_at"])
    assert status["latest_message"] == "Queued 1 document(s) for indexing"

    # WHEN the bucket's own event for that object arrives (twice: at-least-once delivery)
    results = [_invoke(trigger, s3_event("Object Created", "input/ada notes.txt"))
               for _ in range(2)]

    # THEN nothing new starts
    assert [r["action"] for r in results] == ["already_queued", "already_queued"]
    assert len(_executions(aws["arn"])) == 1


def test_deleting_an_uploaded_document_with_its_file_deletes_the_object(
    settings: Settings, aws: dict[str, str]
) -> None:
    s3 = boto3.client("s3")
    with TestClient(create_app(settings)) as client:
        client.post("/documents/upload", files={"file": ("a.txt", TEXT.encode(), "text/plain")})
        client.post("/documents/upload", files={"file": ("b.txt", TEXT.encode(), "text/plain")})
        docs = {d["file_path"]: d["id"]
                for d in client.post("/documents/paginated", json={}).json()["documents"]}

        # WHEN one is deleted with delete_file, the other without
        for name, delete_file in (("a.txt", True), ("b.txt", False)):
            response = client.request("DELETE", "/documents/delete_document",
                                      json={"doc_ids": [docs[name]], "delete_file": delete_file})
            assert response.status_code == 200, response.text
        left = client.post("/documents/paginated", json={}).json()["documents"]

    # THEN both documents are gone, and only the first one's object
    assert left == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == ["input/b.txt"]


def test_clearing_a_workspace_deletes_its_drop_files_only(
    settings: Settings, aws: dict[str, str]
) -> None:
    s3 = boto3.client("s3")
    with TestClient(create_app(settings)) as client:
        for name in ("a.txt", "b.txt"):
            client.post("/documents/upload", files={"file": (name, TEXT.encode(), "text/plain")})
        client.post("/documents/upload", headers={"LIGHTRAG-WORKSPACE": "team_a"},
                    files={"file": ("c.txt", TEXT.encode(), "text/plain")})

        # WHEN the default workspace is cleared
        answer = client.delete("/documents").json()
        left = client.post("/documents/paginated", json={}).json()["documents"]
        other = client.post("/documents/paginated", json={},
                            headers={"LIGHTRAG-WORKSPACE": "team_a"}).json()["documents"]

    # THEN its documents and its top-level drop files are gone; team_a keeps both
    assert answer == {"status": "success",
                      "message": "All documents cleared successfully. Deleted 2 files."}
    assert left == [] and [d["file_path"] for d in other] == ["c.txt"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["input/team_a/c.txt"]


def test_a_scan_registers_the_drop_files_no_document_owns_yet(
    settings: Settings, aws: dict[str, str]
) -> None:
    # GIVEN files in the bucket whose events never arrived, beside an uploaded one
    s3 = boto3.client("s3")
    for key in ("input/a.txt", "input/b.md", "input/tool.exe", "input/team_a/c.txt"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())
    with TestClient(create_app(settings)) as client:
        client.post("/documents/upload", files={"file": ("d.txt", TEXT.encode(), "text/plain")})

        # WHEN the default workspace is scanned
        track_id = client.post("/documents/scan").json()["track_id"]
        status = client.get(f"/documents/scan/status/{track_id}").json()
        docs = client.post("/documents/paginated", json={}).json()["documents"]

    # THEN the two new supported files are registered from their objects and queued
    assert status["status"] == "completed", status
    assert status["counts"] == {"claimed_new": 2, "unsupported": 1, "alias_duplicate": 1}
    assert sorted(d["file_path"] for d in docs) == ["a.txt", "b.md", "d.txt"]
    started = {e["input"]["doc_id"] for e in _executions(aws["arn"])}
    assert started == {d["id"] for d in docs}
    # AND no object moved (a move would delete its document through the bucket's events)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == ["input/a.txt", "input/b.md", "input/d.txt", "input/team_a/c.txt",
                    "input/tool.exe"]


def test_an_upload_to_a_named_workspace_goes_under_its_folder(
    settings: Settings, aws: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.post("/documents/upload", headers={"LIGHTRAG-WORKSPACE": "team_a"},
                               files={"file": ("a.md", b"# Title\nSome text.", "text/markdown")})
        assert response.status_code == 200, response.text
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["input/team_a/a.md"]
    [execution] = _executions(aws["arn"])
    assert execution["input"]["workspace"] == "team_a"


# ------------------------------------------------------------------- drop folder


def test_a_dropped_file_is_indexed_from_s3_and_its_deletion_deletes_it(
    aws: dict[str, str], trigger: ModuleType
) -> None:
    # GIVEN a file dropped in a workspace's folder
    key = "input/team_a/Ada Lovelace+notes.md"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())

    # WHEN its event is delivered twice
    first = _invoke(trigger, s3_event("Object Created", key))
    again = _invoke(trigger, s3_event("Object Created", key))

    # THEN one document is registered with the object as its source, and one execution runs
    assert (first["action"], first["workspace"], first["file_path"]) == (
        "queued", "team_a", "Ada Lovelace+notes.md")
    assert again["action"] == "already_queued"
    [execution] = _executions(aws["arn"])
    [doc_id] = first["doc_ids"]
    assert execution["input"] == {"workspace": "team_a", "doc_id": doc_id}
    ws = _run(trigger, trigger._engine.workspace("team_a"))
    stored = _run(trigger, ws.stores.full_docs.get_by_id(doc_id))
    assert stored["source_file"] == f"s3://{BUCKET}/{key}"

    # WHEN the steps run (as the state machine would), reading the file from S3
    result = _run(trigger, run_document(ws, execution["input"]))
    assert result["status"] == "processed", result
    assert _run(trigger, ws.stores.graph.counts()) != (0, 0)

    # AND the object is deleted
    deleted = _invoke(trigger, s3_event("Object Deleted", key))

    # THEN the document and what it alone produced are gone
    assert (deleted["action"], deleted["doc_ids"]) == ("deleted", [doc_id])
    assert _run(trigger, ws.stores.doc_status.get(doc_id)) is None
    assert _run(trigger, ws.stores.graph.counts()) == (0, 0)
    assert _invoke(trigger, s3_event("Object Deleted", key))["action"] == "not_found"


@pytest.mark.parametrize(("key", "reason"), [
    ("input/a/b/deep.txt", "is not <prefix><file>"),
    ("elsewhere/notes.txt", "is not <prefix><file>"),
    ("input/folder/", "is not <prefix><file>"),
    ("input/bad-name/notes.txt", "Invalid workspace name"),
    ("input/tool.exe", "Unsupported file type"),
])
def test_objects_that_are_not_documents_are_skipped_with_the_reason(
    key: str, reason: str, aws: dict[str, str], trigger: ModuleType
) -> None:
    result = _invoke(trigger, s3_event("Object Created", key))
    assert result["action"] == "skipped"
    assert reason in result["reason"]
    assert _executions(aws["arn"]) == []


def test_a_file_named_like_an_existing_document_is_not_registered_twice(
    aws: dict[str, str], trigger: ModuleType
) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key="input/notes.txt", Body=b"first copy")
    s3.put_object(Bucket=BUCKET, Key="input/notes.[mineru].txt", Body=b"second copy")
    assert _invoke(trigger, s3_event("Object Created", "input/notes.txt"))["action"] == "queued"
    other = _invoke(trigger, s3_event("Object Created", "input/notes.[mineru].txt"))
    assert other["action"] == "skipped"
    assert "already holds a document named notes.txt" in other["reason"]
    assert len(_executions(aws["arn"])) == 1


@pytest.mark.parametrize("event", [
    {"source": "aws.s3", "detail-type": "Object Restore Completed", "detail": {}},
    {"source": "aws.ec2", "detail-type": "Object Created", "detail": {}},
    {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": BUCKET}}},
    {},
])
def test_events_that_are_not_s3_object_events_are_refused(
    event: dict[str, Any], trigger: ModuleType
) -> None:
    with pytest.raises(trigger.UnsupportedEventError):
        _invoke(trigger, event)


def test_an_event_from_another_bucket_is_refused(trigger: ModuleType) -> None:
    with pytest.raises(trigger.UnsupportedEventError, match="not the input bucket"):
        _invoke(trigger, s3_event("Object Created", "input/x.txt", bucket="someone-else"))


# ------------------------------------------------------------ shared pipeline record


@dataclass
class TwoProcesses:
    """An API process that queued one document and a worker process that runs its steps."""

    api: Engine
    api_ws: Workspace
    worker_ws: Workspace
    payload: dict[str, str]


@pytest.fixture
async def processes(
    settings: Settings, tmp_path: Path, fake_llm: FakeLLMServer
) -> Any:
    # The worker is configured as template.yaml configures a step Lambda: no state machine
    # ARN (it would be a circular reference), the pipeline record shared explicitly.
    worker_settings = fake_settings(tmp_path, fake_llm, lambdarag_pipeline_status="shared",
                                    lambdarag_input_bucket=BUCKET)
    assert not worker_settings.lambdarag_state_machine_arn
    api, worker = build_engine(settings), build_engine(worker_settings)
    try:
        api_ws = await api.workspace("")
        queued = await documents.enqueue(api_ws, [NewDocument("a.txt", TEXT)], "t1")
        await api.runner.submit("", queued.doc_ids)
        yield TwoProcesses(api, api_ws, await worker.workspace(""),
                           {"workspace": "", "doc_id": queued.doc_ids[0]})
    finally:
        await api.aclose()
        await worker.aclose()


async def test_steps_in_other_processes_update_the_record_the_api_shows(
    processes: TwoProcesses,
) -> None:
    # WHEN the worker runs every step
    ws, payload = processes.worker_ws, processes.payload
    plan = await run_step(ws, "prepare", payload)
    for batch in plan["extract_batches"]:
        await run_step(ws, "extract", batch)
    for shard in plan["merge_entities"] + plan["merge_relations"]:
        await run_step(ws, "merge", shard)
    await run_step(ws, "finalize", payload)

    # THEN the API process sees the job finished, with the worker's messages
    record = (await processes.api_ws.refresh_pipeline()).as_dict()
    assert (record["busy"], record["docs"], record["cur_batch"]) == (False, 1, 1)
    assert record["job_name"] == "a.txt...[serverless]"
    history = record["history_messages"]
    assert any(m.startswith("Chunked a.txt") for m in history)
    assert history[-1] == "All documents processed"
    assert await processes.api.pipeline_busy("") is False


async def test_retried_steps_count_a_document_once(processes: TwoProcesses) -> None:
    ws, payload = processes.worker_ws, processes.payload
    for _ in range(2):  # a retried prepare (or a duplicate execution)
        plan = await run_step(ws, "prepare", payload)
    assert (await processes.api_ws.refresh_pipeline()).as_dict()["docs"] == 1
    assert await processes.api.pipeline_busy("") is True
    for batch in plan["extract_batches"]:
        await run_step(ws, "extract", batch)
    for shard in plan["merge_entities"] + plan["merge_relations"]:
        await run_step(ws, "merge", shard)
    for _ in range(2):
        await run_step(ws, "finalize", payload)
    record = (await processes.api_ws.refresh_pipeline()).as_dict()
    assert (record["busy"], record["cur_batch"]) == (False, 1)


async def test_a_cancel_through_the_api_stops_a_step_in_another_process(
    settings: Settings, processes: TwoProcesses
) -> None:
    plan = await run_step(processes.worker_ws, "prepare", processes.payload)

    # WHEN cancellation is requested through an API instance
    with TestClient(create_app(settings)) as client:
        answer = client.post("/documents/cancel_pipeline").json()
    assert answer["status"] == "cancellation_requested"

    # THEN the next step in the worker stops, as the local runner's would
    with pytest.raises(pipeline.PipelineCancelled, match="User cancelled"):
        await run_step(processes.worker_ws, "extract", plan["extract_batches"][0])


# ------------------------------------------------------------------------ secrets


def test_secrets_fill_the_environment_without_overriding_it(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="lambdarag", SecretString=json.dumps(
        {"LLM_BINDING_API_KEY": "sk-from-secret", "TOKEN_SECRET": "x" * 40}))["ARN"]
    monkeypatch.delenv("LLM_BINDING_API_KEY", raising=False)
    monkeypatch.setenv("TOKEN_SECRET", "set-by-the-function")

    applied = load_secrets(arn)

    import os

    assert applied == ["LLM_BINDING_API_KEY"]
    assert os.environ["LLM_BINDING_API_KEY"] == "sk-from-secret"
    assert os.environ["TOKEN_SECRET"] == "set-by-the-function"
    monkeypatch.delenv("LLM_BINDING_API_KEY")


@pytest.mark.parametrize("secret", ['["a"]', '{"A": 1}', "not json"])
def test_a_malformed_secret_is_refused_with_the_expected_shape(
    secret: str, aws: dict[str, str]
) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="bad", SecretString=secret)["ARN"]
    with pytest.raises(SecretFormatError, match="bad"):
        load_secrets(arn)


# ------------------------------------------------------------------ sample events


@pytest.mark.parametrize("path", sorted((ROOT / "events").glob("s3-*.json")), ids=lambda p: p.name)
def test_the_sample_s3_events_drive_the_trigger(
    path: Path, aws: dict[str, str], trigger: ModuleType
) -> None:
    # GIVEN a sample event (as `sam local invoke -e` would send it), aimed at our bucket
    event = json.loads(path.read_text())
    kind, _, key = trigger.parse(event)
    event["detail"]["bucket"]["name"] = BUCKET
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=TEXT.encode())

    # WHEN the trigger handles it
    result = _invoke(trigger, event)

    # THEN a created object is queued from the decoded key; a deleted one finds nothing to drop
    expected = {"Object Created": "queued", "Object Deleted": "not_found"}[kind]
    assert result["action"] == expected, result
    assert key == unquote_plus(event["detail"]["object"]["key"])


@pytest.mark.parametrize("path", sorted((ROOT / "events").glob("sfn-*.json")), ids=lambda p: p.name)
def test_the_sample_task_inputs_are_valid_pipeline_inputs(path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "pipeline_handler_samples", ROOT / "functions" / "pipeline" / "handler.py")
    assert spec and spec.loader
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    step = path.stem.removeprefix("sfn-").split("-")[0]
    event = json.loads(path.read_text())
    assert module._validated(step, event) == event
    needs = {"extract": {"start", "end"}, "merge": {"phase", "shard", "shards"}, "fail": {"error"}}
    assert needs.get(step, set()) <= event.keys()


# ------------------------------------------------------------------- S3 sources


async def test_a_source_object_gone_before_indexing_is_a_parse_error(aws: dict[str, str]) -> None:
    from lambdarag.indexing.parse import ParseError, load_document_sections
    from lambdarag.serverless.inputs import read_source

    with pytest.raises(ParseError, match="does not exist"):
        await load_document_sections(f"s3://{BUCKET}/input/missing.txt", read_source)


async def test_a_throttled_source_read_is_a_retryable_store_error(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from lambdarag.indexing.parse import load_document_sections
    from lambdarag.serverless.inputs import read_source
    from lambdarag.storage.base import StoreUnavailableError

    class Throttled:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your rate"}},
                              "GetObject")

    monkeypatch.setattr("lambdarag.serverless.s3.client", lambda service: Throttled())
    # The state machine retries StoreUnavailableError (test_state_machine.py); not ParseError.
    with pytest.raises(StoreUnavailableError, match="SlowDown"):
        await load_document_sections(f"s3://{BUCKET}/input/a.txt", read_source)


# ------------------------------------------------------------------ delete jobs

TRIGGER_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:TriggerFunction"


class RecordingLambda:
    """Stands in for the Lambda client: records asynchronous invocations."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["InvocationType"] == "Event"
        self.invocations.append({**kwargs, "event": json.loads(kwargs["Payload"])})
        return {"StatusCode": 202}


def test_an_api_delete_runs_as_a_job_of_the_trigger_function(
    tmp_path: Path, fake_llm: FakeLLMServer, aws: dict[str, str], trigger: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lam = RecordingLambda()
    monkeypatch.setattr("lambdarag.serverless.jobs.client", lambda service: lam)
    api_settings = fake_settings(tmp_path, fake_llm, lambdarag_state_machine_arn=aws["arn"],
                                 lambdarag_input_bucket=BUCKET,
                                 lambdarag_delete_function=TRIGGER_ARN)
    with TestClient(create_app(api_settings)) as client:
        client.post("/documents/upload", files={"file": ("a.txt", TEXT.encode(), "text/plain")})
        [doc] = client.post("/documents/paginated", json={}).json()["documents"]

        # WHEN the API is asked to delete it with its file
        response = client.request("DELETE", "/documents/delete_document",
                                  json={"doc_ids": [doc["id"]], "delete_file": True})
        still_there = client.post("/documents/paginated", json={}).json()["documents"]

    # THEN the API answered at once and queued the job to the trigger function
    assert response.json()["status"] == "deletion_started"
    assert [d["id"] for d in still_there] == [doc["id"]]
    [call] = lam.invocations
    assert call["FunctionName"] == TRIGGER_ARN
    assert call["event"]["detail"] == {"workspace": "", "doc_ids": [doc["id"]],
                                       "delete_file": True, "delete_llm_cache": False}

    # WHEN the trigger function runs the job
    result = _invoke(trigger, call["event"])

    # THEN the document and its object are gone
    assert (result["action"], result["doc_ids"]) == ("deleted", [doc["id"]])
    ws = _run(trigger, trigger._engine.workspace(""))
    assert _run(trigger, ws.stores.doc_status.get(doc["id"])) is None
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    history = _run(trigger, ws.refresh_pipeline()).as_dict()["history_messages"]
    assert history[-1] == "Deletion finished: 1 of 1 documents deleted"


def test_a_delete_that_cannot_be_queued_is_a_502_and_deletes_nothing(
    tmp_path: Path, fake_llm: FakeLLMServer, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.exceptions import ClientError

    class Refusing:
        def invoke(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                              "Invoke")

    monkeypatch.setattr("lambdarag.serverless.jobs.client", lambda service: Refusing())
    api_settings = fake_settings(tmp_path, fake_llm, lambdarag_state_machine_arn=aws["arn"],
                                 lambdarag_input_bucket=BUCKET,
                                 lambdarag_delete_function=TRIGGER_ARN)
    with TestClient(create_app(api_settings)) as client:
        client.post("/documents/upload", files={"file": ("a.txt", TEXT.encode(), "text/plain")})
        [doc] = client.post("/documents/paginated", json={}).json()["documents"]
        response = client.request("DELETE", "/documents/delete_document",
                                  json={"doc_ids": [doc["id"]]})
        left = client.post("/documents/paginated", json={}).json()["documents"]
    assert response.status_code == 502
    assert "Could not queue the deletion job" in response.json()["detail"]
    assert [d["id"] for d in left] == [doc["id"]]


def test_a_clear_whose_drop_files_cannot_be_deleted_is_a_partial_success(
    settings: Settings, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_: Any) -> int:
        raise RuntimeError("AccessDenied")

    monkeypatch.setattr("lambdarag.serverless.s3.delete_drop_files", refuse)
    with TestClient(create_app(settings)) as client:
        client.post("/documents/upload", files={"file": ("a.txt", TEXT.encode(), "text/plain")})
        answer = client.delete("/documents").json()
        left = client.post("/documents/paginated", json={}).json()["documents"]
    assert answer == {"status": "partial_success",
                      "message": "Cleared documents with some errors. Deleted 0 files."}
    assert left == []


async def test_a_large_delete_is_split_into_several_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdarag.serverless.jobs import DeleteJob, queue_delete

    lam = RecordingLambda()
    monkeypatch.setattr("lambdarag.serverless.jobs.client", lambda service: lam)
    ids = [f"doc-{i:05d}" for i in range(2500)]
    assert await queue_delete(TRIGGER_ARN, DeleteJob("team_a", ids, True)) == 3
    parts = [call["event"]["detail"]["doc_ids"] for call in lam.invocations]
    assert [len(p) for p in parts] == [1000, 1000, 500]
    assert sum(parts, []) == ids
    assert all(len(call["Payload"]) < 256 * 1024 for call in lam.invocations)


@pytest.mark.parametrize(("detail", "problem"), [
    ({"workspace": "", "doc_ids": []}, "non-empty list"),
    ({"workspace": "", "doc_ids": ["doc-1", 3]}, "non-empty list"),
    ({"workspace": "bad-name", "doc_ids": ["doc-1"]}, "Invalid workspace name"),
    ({"workspace": "", "doc_ids": ["doc-1"], "delete_file": "yes"}, "booleans"),
    (None, "no detail object"),
])
def test_a_malformed_delete_job_is_refused_with_the_reason(
    detail: Any, problem: str, trigger: ModuleType
) -> None:
    from lambdarag.serverless.jobs import JobEventError

    event = {"source": "lambdarag", "detail-type": "Delete Documents", "detail": detail}
    with pytest.raises(JobEventError, match=problem):
        _invoke(trigger, event)
