"""Merge rounds: documents extracted meanwhile are merged together, each key once.

GIVEN documents that all name the same entity, extracted (prepare + extract) one by one,
WHEN one merge round takes them together, THEN the shared entity is summarised once, not
once per document, the graph equals what per-document merges build, every document ends
processed with its share of the LLM usage, and a document whose own merge fails ends
FAILED alone.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from lambdarag.documents import lifecycle as documents
from lambdarag.pipeline import runner
from lambdarag.pipeline import steps as pipeline
from lambdarag.runtime import build_engine
from lambdarag.utils import new_track_id
from lambdarag.workspace.workspace import Workspace
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings

TEXTS = {f"memo{i:02d}.txt": f"Acme Corp opened an office in Berlin. Acme Corp hired "
         f"Engineer{i} Moss." for i in range(12)}


async def extracted(ws: Workspace) -> list[str]:
    queued = await documents.enqueue(
        ws, [documents.NewDocument(name, text) for name, text in TEXTS.items()],
        new_track_id("insert"))
    for doc_id in queued.doc_ids:
        plan = await pipeline.prepare(ws, {"workspace": ws.name, "doc_id": doc_id})
        for batch in plan["extract_batches"]:
            await pipeline.extract(ws, batch)
    return queued.doc_ids


def chat_texts(fake: FakeLLMServer) -> list[str]:
    return ["\n".join(m.get("content", "") for m in body["messages"])
            for path, body in fake.requests if "messages" in body]


def summaries_of(fake: FakeLLMServer, name: str) -> int:
    """Summary requests that carry ``name``'s descriptions (shared or alone)."""
    return sum(1 for text in chat_texts(fake)
               if ("---Descriptions by name---" in text and f'"name": "{name}"' in text)
               or f'descriptions of the entity "{name}"' in text)


async def graph_of(ws: Workspace) -> dict[str, Any]:
    names = await ws.stores.graph.all_labels()
    nodes = await ws.stores.graph.get_nodes(names)
    return {n: (set(p["source_id"].split("<SEP>")), p["entity_type"]) for n, p in nodes.items()}


def test_one_round_merges_a_shared_entity_once(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    async def scenario() -> None:
        engine = build_engine(fake_settings(tmp_path, fake_llm))
        try:
            ws = await engine.workspace("rounds")
            doc_ids = await extracted(ws)
            fake_llm.requests.clear()
            # WHEN one round merges the twelve documents
            await runner.merge_round(ws, doc_ids)
            rounds_summaries = summaries_of(fake_llm, "Acme Corp")
            round_calls = len(chat_texts(fake_llm))
            records = await ws.stores.doc_status.get_many(doc_ids)
            assert {r["status"] for r in records} == {"processed"}
            usage = [r["metadata"]["llm_usage"] for r in records]
            rounds_graph = await graph_of(ws)
            # ... and the same documents merged one at a time, as Step Functions does
            other = await engine.workspace("alone")
            fake_llm.requests.clear()
            for doc_id in await extracted(other):
                for phase in ("merge_entities", "merge_relations"):
                    plan = pipeline._plan({"workspace": "alone", "doc_id": doc_id}, 1, 8)
                    for shard in plan[phase]:
                        await pipeline.merge(other, shard)
                await pipeline.finalize(other, {"workspace": "alone", "doc_id": doc_id})
            alone_summaries = summaries_of(fake_llm, "Acme Corp")
            # THEN Acme Corp (twelve descriptions) was summarised once instead of per build-up
            assert rounds_summaries == 1 < alone_summaries
            # AND both ways build the same nodes from the same evidence
            assert rounds_graph == await graph_of(other)
            # AND the documents' usage shares add up to the round's LLM calls
            assert sum(u["calls"] for u in usage) == round_calls > 0
        finally:
            await engine.aclose()

    asyncio.run(scenario())


def test_a_document_whose_merge_fails_ends_failed_alone(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        engine = build_engine(fake_settings(tmp_path, fake_llm))
        try:
            ws = await engine.workspace("poison")
            doc_ids = await extracted(ws)
            poisoned = doc_ids[3]
            real = pipeline.merge_documents

            async def merge_documents(ws: Workspace, ids: list[str]) -> dict[str, Any]:
                if poisoned in ids:
                    raise pipeline.PipelineError("the merge of this document fails")
                return await real(ws, ids)

            monkeypatch.setattr(pipeline, "merge_documents", merge_documents)
            # WHEN the round that holds it fails
            await runner.merge_round(ws, doc_ids)
            records = {r["id"]: r for r in await ws.stores.doc_status.get_many(doc_ids)}
            # THEN only that document is FAILED, with the reason; the others are processed
            assert records[poisoned]["status"] == "failed"
            assert records[poisoned]["error_msg"] == "the merge of this document fails"
            assert {records[d]["status"] for d in doc_ids if d != poisoned} == {"processed"}
        finally:
            await engine.aclose()

    asyncio.run(scenario())


def test_documents_uploaded_together_are_processed_in_rounds_over_http(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    from fastapi.testclient import TestClient

    from lambdarag.api.app import create_app
    from tests.functional.conftest import wait_track

    fake_llm.chat_delay = 0.05
    with TestClient(create_app(fake_settings(tmp_path, fake_llm))) as client:
        response = client.post("/documents/texts", json={
            "texts": list(TEXTS.values()), "file_sources": list(TEXTS)})
        assert response.status_code == 200, response.text
        docs = wait_track(client, response.json()["track_id"], timeout=60)
        assert sorted((d["file_path"], d["status"]) for d in docs) == [
            (name, "processed") for name in TEXTS]
        node = client.get("/graphs", params={"label": "Acme Corp", "max_depth": 1}).json()
        acme = next(n for n in node["nodes"] if n["id"] == "Acme Corp")["properties"]
        assert len(acme["source_id"].split("<SEP>")) == len(TEXTS)
        health = client.get("/health").json()
        assert sum(d["metadata"]["llm_usage"]["calls"] for d in docs) == (
            health["llm_usage"]["calls"])
