"""Open WebUI's documented API for scripts, against a live server, with the real clients.

The calls are those of Open WebUI's "API endpoints" guide: the model list, chat
completions with ``files`` (a knowledge collection or single files), file uploads,
adding a file to a knowledge collection, and the Ollama proxy under ``/ollama``. Each
sends ``Authorization: Bearer <key>``. The OpenAI SDK drives the OpenAI-shaped calls
(base URL ``<server>/api``, as scripts point it at Open WebUI), the Ollama client the
proxy, httpx the multipart upload and the knowledge calls.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import pytest

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve
from tests.functional.corpus import wait_for

KEY = "openwebui-script-key-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {KEY}", "Accept": "application/json"}
NOTES = b"Helios Probe studies the solar wind. Dana Reyes leads the Helios Probe team at Orbit Labs.\n"
OTHER = b"Kestrel Rover maps lava tubes. Omar Haddad drives the Kestrel Rover for Orbit Labs.\n"


@dataclass
class Live:
    url: str
    http: httpx.Client
    sdk: openai.OpenAI
    fake: FakeLLMServer

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        response = self.http.post("/api/v1/files/", files={"file": (name, data, "text/plain")})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def live(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[Live]:
    settings = fake_settings(tmp_path, fake_llm, lightrag_api_key=KEY, llm_max_retries=0)
    with serve(create_app(settings)) as url, httpx.Client(
        base_url=url, headers=HEADERS, timeout=60
    ) as http, openai.OpenAI(base_url=f"{url}/api", api_key=KEY, max_retries=0) as sdk:
        yield Live(url, http, sdk, fake_llm)


def test_upload_add_to_a_collection_and_chat_with_it(live: Live) -> None:
    # GIVEN a file uploaded the way Open WebUI's guide shows
    uploaded = live.upload("helios.txt", NOTES)
    assert uploaded["filename"] == "helios.txt" and uploaded["id"].startswith("doc-")
    # AND a knowledge collection holding it
    created = live.http.post("/api/v1/knowledge/create",
                             json={"name": "Mission Notes", "description": "probes"})
    assert created.status_code == 200, created.text
    knowledge_id = created.json()["id"]
    assert knowledge_id == "Mission_Notes"
    added = live.http.post(f"/api/v1/knowledge/{knowledge_id}/file/add",
                           json={"file_id": uploaded["id"]})
    assert added.status_code == 200, added.text
    assert added.json()["id"] == knowledge_id
    assert [(f["id"], f["meta"]["name"], f["data"]["status"]) for f in added.json()["files"]] == [
        (uploaded["id"], "helios.txt", "processed")]
    # WHEN a script chats with the collection through the OpenAI SDK
    completion = live.sdk.chat.completions.create(
        model="any-model", messages=[{"role": "user", "content": "Who leads the Helios Probe team?"}],
        extra_body={"files": [{"type": "collection", "id": knowledge_id}]})
    # THEN the answer comes from the collection's document
    answer = completion.choices[0].message.content or ""
    assert answer.startswith("Answer from context.")
    assert "[1] helios.txt" in answer
    assert [r["file_path"] for r in (completion.model_extra or {})["references"]] == ["helios.txt"]
    # AND the collection is a knowledge base of its own: listed, and a model
    assert knowledge_id in [k["id"] for k in live.http.get("/api/v1/knowledge/").json()]
    assert [f["id"] for f in live.http.get(f"/api/v1/knowledge/{knowledge_id}").json()["files"]] \
        == [uploaded["id"]]
    assert f"lightrag:{knowledge_id}" in [m.id for m in live.sdk.models.list().data]


def test_file_add_answers_within_its_wait_while_the_file_still_indexes(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    # GIVEN a server whose file/add may wait 0.5 s (as the stack keeps it under API Gateway's
    # limit) and an LLM slower than that
    settings = fake_settings(tmp_path, fake_llm, lightrag_api_key=KEY, llm_max_retries=0,
                             lambdarag_file_add_wait=0.5)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, headers=HEADERS,
                                                          timeout=60) as http:
        uploaded = http.post("/api/v1/files/", files={"file": ("helios.txt", NOTES)}).json()
        fake_llm.chat_delay = 2.0
        # WHEN the file is added to a collection
        started = time.monotonic()
        added = http.post("/api/v1/knowledge/Late/file/add", json={"file_id": uploaded["id"]})
        # THEN the answer comes after the wait, with the file still indexing
        assert added.status_code == 200, added.text
        assert time.monotonic() - started < 1.9
        [file] = added.json()["files"]
        assert (file["id"], file["data"]["status"]) in {(uploaded["id"], "pending"),
                                                       (uploaded["id"], "processing")}
        # AND the collection holds it, processed, a moment later
        fake_llm.chat_delay = 0.0

        def processed() -> bool:
            files = http.get("/api/v1/knowledge/Late").json()["files"]
            return [f["data"]["status"] for f in files] == ["processed"]

        wait_for(processed, timeout=30)


def test_a_file_added_to_a_collection_is_chunked_as_it_was_uploaded(live: Live) -> None:
    # GIVEN a file uploaded with LightRAG's hint for recursive chunking
    uploaded = live.upload("notes.[-R].md", NOTES)
    assert uploaded["filename"] == "notes.md"
    # WHEN it is added to a collection
    added = live.http.post("/api/v1/knowledge/Rec/file/add", json={"file_id": uploaded["id"]})
    assert added.status_code == 200, added.text
    # THEN both copies were chunked recursively
    for workspace in ({}, {"LIGHTRAG-WORKSPACE": "Rec"}):
        headers = {"Authorization": "", "X-API-Key": KEY, **workspace}  # LightRAG's API key header
        listed = live.http.post("/documents/paginated", json={}, headers=headers)
        assert listed.status_code == 200, listed.text
        docs = listed.json()["documents"]
        assert [d["metadata"]["chunk_method"] for d in docs] == ["recursive_character"], workspace


def test_chat_about_one_file_answers_from_that_file_only(live: Live) -> None:
    helios = live.upload("helios.txt", NOTES)
    kestrel = live.upload("kestrel.txt", OTHER)
    for file in (helios, kestrel):  # indexed where they were uploaded: add waits for it
        response = live.http.post("/api/v1/knowledge/Orbit/file/add", json={"file_id": file["id"]})
        assert response.status_code == 200, response.text
    wanted = {"messages": [{"role": "user", "content": "Who works at Orbit Labs?"}],
              "model": "lightrag:latest"}
    both = live.sdk.chat.completions.create(
        **wanted, extra_body={"files": [{"type": "collection", "id": "Orbit"}]})
    only = live.sdk.chat.completions.create(
        **wanted, extra_body={"files": [{"type": "file", "id": kestrel["id"]}]})
    assert {r["file_path"] for r in (both.model_extra or {})["references"]} == {
        "helios.txt", "kestrel.txt"}
    assert [r["file_path"] for r in (only.model_extra or {})["references"]] == ["kestrel.txt"]
    missing = live.http.post("/api/chat/completions", json={
        **wanted, "files": [{"type": "file", "id": "doc-nope"}]})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "files"


def test_the_model_list_is_open_webuis_shape(live: Live) -> None:
    listed = live.http.get("/api/models").json()
    assert listed["data"][0] == {**listed["data"][0], "id": "lightrag:latest",
                                 "name": "lightrag:latest"}
    assert [m.id for m in live.sdk.models.list().data][0] == "lightrag:latest"


def test_the_ollama_proxy(live: Live) -> None:
    live.upload("helios.txt", NOTES)
    client = ollama.Client(host=f"{live.url}/ollama", headers={"Authorization": f"Bearer {KEY}"})
    assert [m.model for m in client.list().models][0] == "lightrag:latest"
    generated = client.generate(model="lightrag:latest", prompt="Say hi")
    assert generated.response == "Echo: Say hi"
    vectors = client.embed(model="lightrag:latest", input=["Helios", "Kestrel"]).embeddings
    assert len(vectors) == 2 and len(vectors[0]) == live.fake.dim
    chat = client.chat(model="lightrag:latest", stream=False,
                       messages=[{"role": "user", "content": "/bypass Hello there"}])
    assert chat.message.content == "Echo: Hello there"


def test_bearer_key_auth_even_where_api_is_whitelisted(live: Live) -> None:
    # WHITELIST_PATHS keeps its default (/health,/api/*): the Ollama chat stays open, but
    # uploading and changing collections write, and the Ollama proxy is not under /api
    anonymous = httpx.Client(base_url=live.url, timeout=30)
    with anonymous:
        upload = anonymous.post("/api/v1/files/", files={"file": ("x.txt", b"hello", "text/plain")})
        create = anonymous.post("/api/v1/knowledge/create", json={"name": "x"})
        proxy = anonymous.get("/ollama/api/tags")
        wrong = anonymous.post("/api/v1/knowledge/create", json={"name": "x"},
                               headers={"Authorization": "Bearer wrong"})
    # /api/v1/* answers missing credentials as OpenAI does (401), /ollama as Ollama's routes
    assert (upload.status_code, create.status_code, proxy.status_code) == (401, 401, 403)
    assert proxy.json()["detail"] == "API Key required"
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Invalid API Key"
    assert live.http.get("/api/v1/knowledge/").status_code == 200


def test_chat_needs_the_key_once_api_is_not_whitelisted(tmp_path: Path,
                                                        fake_llm: FakeLLMServer) -> None:
    settings = fake_settings(tmp_path, fake_llm, lightrag_api_key=KEY, whitelist_paths="/health")
    with serve(create_app(settings)) as url:
        with openai.OpenAI(base_url=f"{url}/api", api_key="wrong", max_retries=0) as bad, \
                pytest.raises(openai.AuthenticationError, match="Invalid API Key"):
            bad.chat.completions.create(model="x", messages=[{"role": "user", "content": "Who?"}])
        with openai.OpenAI(base_url=f"{url}/api", api_key=KEY, max_retries=0) as good:
            assert [m.id for m in good.models.list().data] == ["lightrag:latest"]


def test_provider_failures_reach_the_script_in_openais_shape(live: Live, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    settings = fake_settings(tmp_path / "down", live.fake, llm_binding_host=down,
                             llm_max_retries=0)
    with serve(create_app(settings)) as url, openai.OpenAI(
        base_url=f"{url}/api", api_key="x", max_retries=0
    ) as sdk, pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="x", messages=[{"role": "user", "content": "Who?"}],
                                    extra_body={"files": [{"type": "collection", "id": "any"}]})
    assert caught.value.status_code == 503
    assert f"LLM host {down} (LLM_BINDING_HOST) is unreachable" in caught.value.message
