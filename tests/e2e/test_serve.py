"""`lambdarag serve` as a user runs it: a real process on a real port, real HTTP.

The server is pointed at the fake LLM once through the OpenAI protocol and once
through the Ollama protocol; a text goes in, reaches `processed`, and every query
mode answers from it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.functional.corpus import CORPUS, wait_for

MODES = ["local", "global", "hybrid", "naive", "mix", "bypass"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def binding_env(binding: str, fake: FakeLLMServer) -> dict[str, str]:
    host = fake.openai_url if binding == "openai" else fake.url
    return {"LLM_BINDING": binding, "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": host,
            "EMBEDDING_BINDING": binding, "EMBEDDING_MODEL": "fake-embed",
            "EMBEDDING_BINDING_HOST": host, "EMBEDDING_DIM": "1024"}


@pytest.fixture(params=["openai", "ollama"])
def server(request: pytest.FixtureRequest, tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, **binding_env(request.param, fake_llm), "PORT": str(port), "HOST": "127.0.0.1"}
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "lambdarag.cli", "serve"], cwd=tmp_path, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(base) or process.poll() is not None, timeout=30)
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_indexes_and_answers_in_every_mode(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        health = http.get("/health").json()
        assert health["status"] == "healthy"
        assert health["configuration"]["kv_storage"] == "JsonKVStorage"
        track = http.post("/documents/text", json={"text": CORPUS["acme.txt"], "file_source": "acme.txt"}).json()

        def processed() -> bool:
            docs = http.get(f"/documents/track_status/{track['track_id']}").json()["documents"]
            return bool(docs) and docs[0]["status"] == "processed"

        wait_for(processed, timeout=30)
        status = http.get("/documents/pipeline_status").json()
        assert status["busy"] is False and status["history_messages"]
        for mode in MODES:
            answer = http.post("/query", json={"query": "Who founded Acme Corp?", "mode": mode}).json()
            if mode == "bypass":
                assert answer["response"] == "Echo: Who founded Acme Corp?"
            else:
                assert answer["response"].startswith("Answer from context."), (mode, answer)
                assert answer["references"] == [{"reference_id": "1", "file_path": "acme.txt"}], mode
