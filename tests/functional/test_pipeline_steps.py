"""The pipeline steps as Step Functions will call them: JSON in, JSON out, idempotent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from lambdarag.documents import lifecycle as documents
from lambdarag.pipeline import steps as pipeline
from lambdarag.runtime import build_engine
from lambdarag.utils import new_track_id
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings
from tests.functional.corpus import CORPUS


def roundtrip(payload: dict) -> dict:
    """What crosses a state boundary: JSON text, well under the 256 KiB limit."""
    text = json.dumps(payload)
    assert len(text) < 256 * 1024
    return json.loads(text)


async def snapshot(ws) -> dict:  # noqa: ANN001
    names = await ws.stores.graph.all_labels()
    nodes = await ws.stores.graph.get_nodes(names)
    return {"nodes": {n: {k: v for k, v in p.items() if k != "created_at"} for n, p in nodes.items()},
            "counts": await ws.stores.graph.counts(),
            "entities": await ws.stores.entities_vdb.count(),
            "relations": await ws.stores.relationships_vdb.count(),
            "chunks": await ws.stores.chunks_vdb.count()}


def test_steps_run_on_json_payloads_and_repeat_without_changes(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    async def scenario() -> None:
        engine = build_engine(fake_settings(tmp_path, fake_llm, chunk_size=40, chunk_overlap_size=5,
                                      extract_batch_size=2))
        try:
            ws = await engine.workspace("steps")
            text = " ".join(CORPUS.values())
            queued = await documents.enqueue(ws, [documents.NewDocument("all.txt", text)], new_track_id("insert"))
            doc_id = queued.doc_ids[0]
            start = roundtrip({"workspace": "steps", "doc_id": doc_id})
            plan = roundtrip(await pipeline.prepare(ws, start))
            assert plan["chunk_count"] > 2 and len(plan["extract_batches"]) == -(-plan["chunk_count"] // 2)
            for batch in plan["extract_batches"]:
                roundtrip(await pipeline.extract(ws, roundtrip(batch)))
            for shard in plan["merge_entities"] + plan["merge_relations"]:
                roundtrip(await pipeline.merge(ws, roundtrip(shard)))
            done = roundtrip(await pipeline.finalize(ws, start))
            assert done == {"doc_id": doc_id, "status": "processed", "chunks_count": plan["chunk_count"]}
            first = await snapshot(ws)
            calls = len(fake_llm.requests)
            # WHEN Step Functions retries every step (a duplicate execution)
            again = await pipeline.prepare(ws, start)
            assert again == plan
            for batch in plan["extract_batches"]:
                await pipeline.extract(ws, batch)
            for shard in plan["merge_entities"] + plan["merge_relations"]:
                await pipeline.merge(ws, shard)
            await pipeline.finalize(ws, start)
            # THEN nothing changes and no LLM or embedding call is paid again
            assert await snapshot(ws) == first
            assert len(fake_llm.requests) == calls
            assert first["nodes"]["Acme Corp"]["entity_type"] == "organization"
        finally:
            await engine.aclose()

    asyncio.run(scenario())


def test_fail_step_records_the_reason_and_keeps_the_document(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    async def scenario() -> None:
        engine = build_engine(fake_settings(tmp_path, fake_llm))
        try:
            ws = await engine.workspace()
            queued = await documents.enqueue(ws, [documents.NewDocument("a.txt", "Alice met Bob.")], "t1")
            doc_id = queued.doc_ids[0]
            cause = {"Error": "LLMUnavailableError", "Cause": "LLM host x (LLM_BINDING_HOST) is unreachable"}
            result = await pipeline.fail(ws, {"doc_id": doc_id, "error": cause})
            assert result["status"] == "failed"
            record = await ws.stores.doc_status.get(doc_id)
            assert record["status"] == "failed" and "LLM_BINDING_HOST" in record["error_msg"]
            assert (await ws.stores.full_docs.get_by_id(doc_id))["content"] == "Alice met Bob."
        finally:
            await engine.aclose()

    asyncio.run(scenario())


def test_unfinished_documents_of_every_workspace_resume_at_start(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    settings = fake_settings(tmp_path, fake_llm)

    async def enqueue_only() -> str:
        engine = build_engine(settings)
        try:
            ws = await engine.workspace("team_b")
            queued = await documents.enqueue(ws, [documents.NewDocument("b.txt", "Bea Lund runs Nord Labs.")], "t")
            return queued.doc_ids[0]
        finally:
            await engine.aclose()

    async def restart(doc_id: str) -> str:
        engine = build_engine(settings)
        try:
            assert await engine.start() == 1
            await engine.runner.wait_idle()
            ws = await engine.workspace("team_b")
            return (await ws.stores.doc_status.get(doc_id))["status"]
        finally:
            await engine.aclose()

    doc_id = asyncio.run(enqueue_only())
    assert asyncio.run(restart(doc_id)) == "processed"
