"""LIGHTRAG_API_PREFIX: every route and the web UI under the prefix, as LightRAG serves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import SettingsError
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, wait_track

KEY = "prefix-key-0123456789abcdef0123456789abcdef"


@pytest.fixture
def prefixed(tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("LIGHTRAG_API_PREFIX", "site01/")  # normalised to /site01
    settings = fake_settings(tmp_path, fake_llm, lightrag_api_key=KEY)
    assert settings.lightrag_api_prefix == "/site01"
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_every_route_answers_under_the_prefix(prefixed: TestClient) -> None:
    keyed = {"X-API-Key": KEY}
    response = prefixed.post("/site01/documents/text", headers=keyed,
                             json={"text": "Alice Smith founded Acme Corp.", "file_source": "a.txt"})
    assert response.status_code == 200, response.text
    track = response.json()["track_id"]

    def docs() -> list[dict]:
        return prefixed.get(f"/site01/documents/track_status/{track}", headers=keyed).json()["documents"]

    class Shim:  # wait_track reads through a client; this one adds the prefix and key
        def get(self, path: str):  # noqa: ANN201
            return prefixed.get(f"/site01{path}", headers=keyed)

    assert [d["status"] for d in wait_track(Shim(), track)] == ["processed"]  # type: ignore[arg-type]
    answer = prefixed.post("/site01/query", headers=keyed,
                           json={"query": "Who founded Acme Corp?", "mode": "naive"})
    assert answer.status_code == 200 and answer.json()["references"][0]["file_path"] == "a.txt"
    assert prefixed.post("/site01/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                         json={"model": "lightrag:latest", "stream": False, "messages": [
                             {"role": "user", "content": "/bypass hi"}]}).status_code == 200
    assert docs()[0]["file_path"] == "a.txt"
    # the unprefixed paths still answer, for a proxy that strips the prefix (as LightRAG)
    assert prefixed.get("/documents/status_counts", headers=keyed).status_code == 200


def test_whitelist_and_auth_see_the_path_without_the_prefix(prefixed: TestClient) -> None:
    assert prefixed.get("/site01/health").status_code == 200  # WHITELIST_PATHS /health
    assert prefixed.get("/site01/api/tags").status_code == 200  # and /api/*
    assert prefixed.post("/site01/query", json={"query": "Who founded Acme?"}).status_code == 403


def test_the_web_ui_and_the_docs_work_under_the_prefix(prefixed: TestClient) -> None:
    assert prefixed.get("/site01").headers["location"].endswith("/site01/")
    assert prefixed.get("/site01/").headers["location"] == "webui/"
    page = prefixed.get("/site01/webui/")
    assert page.status_code == 200
    # the bundle's URLs are relative, so they resolve under the prefix
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and not [u for u in urls if u.startswith("/")]
    for url in urls:
        assert prefixed.get(f"/site01/webui/{url.removeprefix('./')}").status_code == 200, url
    assert prefixed.get("/site01/openapi.json").json()["servers"] == [{"url": "/site01"}]
    docs = prefixed.get("/site01/docs")
    assert docs.status_code == 200 and "'openapi.json'" in docs.text.replace('"', "'")


def test_a_prefix_that_is_no_path_stops_start_up(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    assert fake_settings(tmp_path, fake_llm, lightrag_api_prefix="/").lightrag_api_prefix == ""
    with pytest.raises(SettingsError, match="LIGHTRAG_API_PREFIX: must be a path"):
        fake_settings(tmp_path, fake_llm, lightrag_api_prefix="/a?b")
