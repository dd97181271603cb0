"""A pipeline killed halfway (kill -9) resumes at the next start and loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from lambdarag.runtime import build_engine
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM, fake_settings
from tests.functional.corpus import wait_for

DOCS = {f"story{i}.txt": f"Captain Nova{i} sailed the Ship Aurora{i} to Port Vega{i}. "
        f"Engineer Lin{i} repaired the Ship Aurora{i} at Port Vega{i}." for i in range(6)}


def extraction_calls(fake: FakeLLMServer) -> int:
    return sum("---Input Text---" in json.dumps(body) for _, body in fake.requests)


def test_killed_indexing_resumes_without_paying_twice(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    # GIVEN `lambdarag index` running on six documents with a slow LLM
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text)
    env = {
        **os.environ,
        "WORKING_DIR": str(tmp_path / "rag_storage"),
        "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake_llm.openai_url,
        "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_BINDING_HOST": fake_llm.openai_url, "EMBEDDING_DIM": str(DIM),
        "MAX_PARALLEL_INSERT": "2", "MAX_ASYNC": "2",
    }
    fake_llm.delay = 0.15
    process = subprocess.Popen(
        [sys.executable, "-m", "lambdarag.cli", "index", *sorted(DOCS)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    # WHEN it is killed with SIGKILL once a few chunks were extracted
    wait_for(lambda: extraction_calls(fake_llm) >= 6 or process.poll() is not None, timeout=60)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the indexer finished before it could be killed"
    paid_before = extraction_calls(fake_llm)
    fake_llm.delay = 0.0

    # THEN a new engine on the same storage resumes every unfinished document
    settings = fake_settings(tmp_path, fake_llm, max_parallel_insert=2)

    async def resume() -> list[dict]:
        engine = build_engine(settings)
        try:
            resumed = await engine.start()
            assert resumed >= 1
            await engine.runner.wait_idle()
            ws = await engine.workspace()
            records = [r for name in DOCS for r in await ws.stores.doc_status.by_file_path(name)]
            nodes = await ws.stores.graph.get_nodes([f"Ship Aurora{i}" for i in range(6)])
            assert len(nodes) == 6
            return records
        finally:
            await engine.aclose()

    records = asyncio.run(resume())
    assert sorted(r["status"] for r in records) == ["processed"] * 6
    # AND prompts answered before the kill came from the extraction cache: at most
    # MAX_ASYNC=2 requests were in flight (unanswered) when the process died
    total_prompts = 6 * 2  # one extraction + one gleaning per single-chunk document
    answered_before = paid_before - 2
    assert extraction_calls(fake_llm) - paid_before <= total_prompts - answered_before
