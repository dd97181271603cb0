"""The Step Functions task handlers, invoked one after another as a warm Lambda would."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
from pathlib import Path

import pytest

from lambdarag.documents import lifecycle as documents
from lambdarag.runtime import build_engine
from tests.aws.sfn_harness import FakeLambdaContext
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = FakeLambdaContext(function_name="lambdarag-pipeline")


def load_handler_module():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("pipeline_handler", ROOT / "functions/pipeline/handler.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def use_fake_llm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    """The handlers' environment: the embedded store in tmp_path and the fake LLM."""
    env = {"WORKING_DIR": str(tmp_path), "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm",
           "LLM_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_BINDING": "openai",
           "EMBEDDING_MODEL": "fake-embed", "EMBEDDING_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_DIM": str(DIM)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_handlers_index_two_documents_in_one_warm_environment(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fake_llm(monkeypatch, tmp_path, fake_llm)
    handler = load_handler_module()

    def enqueue(name: str, text: str) -> str:
        async def run() -> str:
            engine = build_engine(handler.load_settings())
            try:
                ws = await engine.workspace("tenant_a")
                return (await documents.enqueue(ws, [documents.NewDocument(name, text)], "t")).doc_ids[0]
            finally:
                await engine.aclose()
        return asyncio.run(run())

    for name, text in {"a.txt": "Mira Holt leads Quartz Labs.", "b.txt": "Quartz Labs hired Ivan Petrov."}.items():
        doc_id = enqueue(name, text)
        event = {"workspace": "tenant_a", "doc_id": doc_id}
        plan = handler.prepare_handler(event, CONTEXT)
        for item in plan["extract_batches"]:
            handler.extract_handler(item, CONTEXT)
        for item in plan["merge_entities"] + plan["merge_relations"]:
            handler.merge_handler(item, CONTEXT)
        assert handler.finalize_handler(event, CONTEXT)["status"] == "processed"

    async def graph() -> dict:
        engine = build_engine(handler.load_settings())
        try:
            ws = await engine.workspace("tenant_a")
            return await ws.stores.graph.get_nodes(["Quartz Labs", "Ivan Petrov", "Mira Holt"])
        finally:
            await engine.aclose()

    nodes = asyncio.run(graph())
    assert set(nodes) == {"Quartz Labs", "Ivan Petrov", "Mira Holt"}
    assert set(nodes["Quartz Labs"]["file_path"].split("<SEP>")) == {"a.txt", "b.txt"}
    with pytest.raises(ValueError, match="must carry doc_id"):
        handler.merge_handler({"workspace": "tenant_a"}, CONTEXT)


@pytest.mark.parametrize(
    ("event", "field"),
    [({"workspace": "tenant_a"}, "doc_id"), ({"doc_id": "", "workspace": ""}, "doc_id"),
     ({"doc_id": 7, "workspace": ""}, "doc_id"), ({"doc_id": "doc-1", "workspace": "../x"}, "workspace"),
     ({"doc_id": "doc-1", "workspace": 3}, "workspace"), (["doc-1"], "JSON object")],
)
def test_an_invalid_task_input_is_a_value_error_naming_the_field(event: object, field: str) -> None:
    handler = load_handler_module()
    with pytest.raises(ValueError, match=field) as raised:
        handler.prepare_handler(event, CONTEXT)
    assert type(raised.value) is ValueError  # the errorType the state machine never retries


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        # a Lambda error: Cause is the JSON the runtime returned; our own errors speak for themselves
        ({"Error": "PipelineError", "Cause": json.dumps({
            "errorMessage": "Document has no text content", "errorType": "PipelineError",
            "stackTrace": ["  File x"]})}, "Document has no text content"),
        ({"Error": "LLMUnavailableError", "Cause": json.dumps({
            "errorMessage": "LLM host down", "errorType": "LLMUnavailableError"})}, "LLM host down"),
        # others carry their type, as runner._reason words them
        ({"Error": "KeyError", "Cause": json.dumps({"errorMessage": "'x'", "errorType": "KeyError"})},
         "KeyError: 'x'"),
        ({"Error": "RuntimeError", "Cause": json.dumps({"errorMessage": "", "errorType": "RuntimeError"})},
         "RuntimeError: RuntimeError"),
        # Step Functions' own errors carry plain text
        ({"Error": "States.Timeout", "Cause": "Task timed out"}, "States.Timeout: Task timed out"),
        ({"Error": "States.Runtime"}, "States.Runtime"),
        ("plain text", "plain text"),
    ],
)
def test_the_fail_handler_words_the_error_like_the_local_runner(error: object, reason: str) -> None:
    assert load_handler_module().failure_reason(error) == reason


def test_the_fail_handler_marks_the_document_failed_with_the_catch_result(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WORKING_DIR", str(tmp_path))
    monkeypatch.setenv("LLM_BINDING_HOST", fake_llm.openai_url)
    monkeypatch.setenv("EMBEDDING_BINDING_HOST", fake_llm.openai_url)
    monkeypatch.setenv("EMBEDDING_DIM", str(DIM))
    handler = load_handler_module()

    async def enqueue() -> str:
        engine = build_engine(handler.load_settings())
        try:
            ws = await engine.workspace("")
            return (await documents.enqueue(ws, [documents.NewDocument("a.txt", "Mira Holt.")], "t")).doc_ids[0]
        finally:
            await engine.aclose()

    doc_id = asyncio.run(enqueue())
    cause = json.dumps({"errorMessage": "Document has no text content", "errorType": "PipelineError"})
    logs_out = io.StringIO()  # the Powertools handler keeps the stdout it met first
    previous = handler.logger.registered_handler.setStream(logs_out)
    try:
        result = handler.fail_handler(
            {"workspace": "", "doc_id": doc_id, "error": {"Error": "PipelineError", "Cause": cause}},
            CONTEXT,
        )
    finally:
        handler.logger.registered_handler.setStream(previous)
    assert result == {"doc_id": doc_id, "status": "failed", "error_msg": "Document has no text content"}
    # Powertools: one structured log line with the keys, one EMF blob with the step's metrics
    output = logs_out.getvalue() + capfd.readouterr().out
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    logs = [line for line in lines if line.get("message") == "step done"]
    assert logs and logs[0]["doc_id"] == doc_id and logs[0]["step"] == "fail"
    emf = [line for line in lines if "_aws" in line]
    assert emf and emf[-1]["step"] == "fail" and emf[-1]["StepErrors"] == [0.0]
    assert emf[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "LambdaRAG"


def test_the_extract_handler_reports_its_llm_tokens_as_metrics(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    use_fake_llm(monkeypatch, tmp_path, fake_llm)
    handler = load_handler_module()

    async def enqueue() -> str:
        engine = build_engine(handler.load_settings())
        try:
            ws = await engine.workspace("")
            text = "Mira Holt founded Quartz Labs in Oslo. Ivan Petrov joined Quartz Labs."
            return (await documents.enqueue(ws, [documents.NewDocument("q.txt", text)], "t")).doc_ids[0]
        finally:
            await engine.aclose()

    doc_id = asyncio.run(enqueue())
    plan = handler.prepare_handler({"workspace": "", "doc_id": doc_id}, CONTEXT)
    capfd.readouterr()
    handler.extract_handler(plan["extract_batches"][0], CONTEXT)

    emf = [json.loads(line) for line in capfd.readouterr().out.splitlines()
           if line.startswith("{") and "_aws" in line]
    assert emf and emf[-1]["step"] == "extract"
    assert emf[-1]["LLMCalls"][0] >= 1 and emf[-1]["PromptTokens"][0] > 0
    assert emf[-1]["CompletionTokens"][0] > 0
