"""50 documents uploaded at once while queries run, over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve

N_DOCS = 50


def document(i: int) -> bytes:
    return (f"Agent{i} Orlov met Doctor{i} Mends in Harbor{i} City. "
            f"Agent{i} Orlov later joined Acme Corp in Berlin.").encode()


async def scenario(base: str) -> tuple[list[dict], list[int], list[dict], list[int]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        seed = await http.post("/documents/text", json={"text": "Acme Corp is based in Berlin.", "file_source": "seed.txt"})
        assert seed.status_code == 200
        uploads = [http.post("/documents/upload", files={"file": (f"doc{i:02d}.txt", document(i))})
                   for i in range(N_DOCS)]
        answers: list[int] = []
        progress: list[dict] = []
        done = asyncio.Event()

        async def query_while_indexing() -> None:
            while not done.is_set():
                response = await http.post("/query", json={"query": "What is in Berlin?", "mode": "mix"})
                answers.append(response.status_code)
                progress.append((await http.get("/documents/pipeline_status")).json())
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(query_while_indexing())
        responses = await asyncio.gather(*uploads)
        statuses = [r.status_code for r in responses]
        while True:
            counts = (await http.get("/documents/status_counts")).json()["status_counts"]
            if counts["processed"] + counts["failed"] >= N_DOCS + 1:
                break
            await asyncio.sleep(0.1)
        done.set()
        await watcher
        listing = (await http.post("/documents/paginated", json={"page_size": 100})).json()["documents"]
        return listing, statuses, progress, answers


def test_fifty_concurrent_uploads_while_querying(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    fake_llm.chat_delay = 0.02
    app = create_app(fake_settings(tmp_path, fake_llm))
    with serve(app) as base:
        listing, statuses, progress, answers = asyncio.run(scenario(base))
    assert statuses == [200] * N_DOCS
    assert len(listing) == N_DOCS + 1
    assert {d["status"] for d in listing} == {"processed"}
    assert {d["file_path"] for d in listing} == {f"doc{i:02d}.txt" for i in range(N_DOCS)} | {"seed.txt"}
    # every query made during the run answered, and the pipeline status moved
    assert answers and set(answers) == {200}
    assert any(p["busy"] for p in progress)
    assert len({p["cur_batch"] for p in progress if p["busy"]}) > 1
