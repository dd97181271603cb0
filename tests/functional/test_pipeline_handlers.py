"""The Step Functions task handlers, invoked one after another as a warm Lambda would."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from lambdarag import documents
from lambdarag.engine import Engine
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM

ROOT = Path(__file__).resolve().parents[2]


def load_handler_module():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("pipeline_handler", ROOT / "functions/pipeline/handler.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_handlers_index_two_documents_in_one_warm_environment(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"WORKING_DIR": str(tmp_path), "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm",
           "LLM_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_BINDING": "openai",
           "EMBEDDING_MODEL": "fake-embed", "EMBEDDING_BINDING_HOST": fake_llm.openai_url,
           "EMBEDDING_DIM": str(DIM)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler = load_handler_module()

    def enqueue(name: str, text: str) -> str:
        async def run() -> str:
            engine = Engine(handler.load_settings())
            try:
                ws = await engine.workspace("tenant_a")
                return (await documents.enqueue(ws, [documents.NewDocument(name, text)], "t")).doc_ids[0]
            finally:
                await engine.aclose()
        return asyncio.run(run())

    for name, text in {"a.txt": "Mira Holt leads Quartz Labs.", "b.txt": "Quartz Labs hired Ivan Petrov."}.items():
        doc_id = enqueue(name, text)
        event = {"workspace": "tenant_a", "doc_id": doc_id}
        plan = handler.prepare_handler(event, None)
        for item in plan["extract_batches"]:
            handler.extract_handler(item, None)
        for item in plan["merge_entities"] + plan["merge_relations"]:
            handler.merge_handler(item, None)
        assert handler.finalize_handler(event, None)["status"] == "processed"

    async def graph() -> dict:
        engine = Engine(handler.load_settings())
        try:
            ws = await engine.workspace("tenant_a")
            return await ws.stores.graph.get_nodes(["Quartz Labs", "Ivan Petrov", "Mira Holt"])
        finally:
            await engine.aclose()

    nodes = asyncio.run(graph())
    assert set(nodes) == {"Quartz Labs", "Ivan Petrov", "Mira Holt"}
    assert set(nodes["Quartz Labs"]["file_path"].split("<SEP>")) == {"a.txt", "b.txt"}
    with pytest.raises(ValueError, match="must carry doc_id"):
        handler.merge_handler({"workspace": "tenant_a"}, None)
