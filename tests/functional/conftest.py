"""Fixtures for API/engine tests: settings pointing at the fake LLM, an app client."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import Settings, load_settings
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.corpus import CORPUS, wait_for

DIM = 1024


def fake_settings(tmp_path: Path, fake: FakeLLMServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "working_dir": tmp_path / "rag_storage",
        "input_dir": tmp_path / "inputs",
        "llm_binding": "openai",
        "llm_model": "fake-llm",
        "llm_binding_host": fake.openai_url,
        "embedding_binding": "openai",
        "embedding_model": "fake-embed",
        "embedding_binding_host": fake.openai_url,
        "embedding_dim": DIM,
        "llm_max_retries": 2,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(tmp_path: Path, fake_llm: FakeLLMServer) -> Settings:
    return fake_settings(tmp_path, fake_llm)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def insert(client: TestClient, text: str, source: str | None) -> str:
    body: dict[str, Any] = {"text": text}
    if source is not None:
        body["file_source"] = source
    response = client.post("/documents/text", json=body)
    assert response.status_code == 200, response.text
    return response.json()["track_id"]


def wait_track(client: TestClient, track_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Wait until every document of ``track_id`` is processed or failed; return them."""

    def done() -> list[dict[str, Any]] | None:
        docs = client.get(f"/documents/track_status/{track_id}").json()["documents"]
        finished = docs and all(d["status"] in {"processed", "failed"} for d in docs)
        return docs if finished else None

    return wait_for(done, timeout)


@pytest.fixture
def indexed(client: TestClient) -> TestClient:
    """A client whose default workspace holds the whole corpus, processed."""
    for name, text in CORPUS.items():
        docs = wait_track(client, insert(client, text, name))
        assert [d["status"] for d in docs] == ["processed"], docs
    return client


def workspace(client: TestClient, name: str = ""):  # noqa: ANN201 - the engine's Workspace
    engine = client.app.state.engine  # type: ignore[attr-defined]
    return client.portal.call(engine.workspace, name)  # type: ignore[union-attr]


def run(client: TestClient, func, *args):  # noqa: ANN001, ANN201
    """Run an engine coroutine function on the app's event loop."""
    return client.portal.call(func, *args)  # type: ignore[union-attr]


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
