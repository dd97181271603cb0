"""ENTITY_EXTRACTION_USE_JSON: extraction asked for (and read from) one JSON object.

GIVEN the same document indexed with the text format and with JSON mode,
THEN the provider was asked for a JSON response in JSON mode only, and both graphs hold
the same entities and relations (gleaning included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, wait_track
from tests.functional.corpus import CORPUS


def graph_of(tmp_path: Path, fake: FakeLLMServer, **overrides: Any) -> dict[str, Any]:
    with TestClient(create_app(fake_settings(tmp_path, fake, **overrides))) as client:
        [doc] = wait_track(client, insert(client, CORPUS["acme.txt"], "acme.txt"))
        assert doc["status"] == "processed", doc
        graph = client.get("/graphs", params={"label": "*", "max_nodes": 100}).json()
    return {"nodes": sorted(n["id"] for n in graph["nodes"]),
            "edges": sorted((e["source"], e["target"]) for e in graph["edges"])}


def extraction_requests(fake: FakeLLMServer) -> list[dict[str, Any]]:
    return [body for path, body in fake.requests
            if "chat" in path and "---Input Text---" in str(body)]


def test_json_mode_builds_the_graph_the_text_format_builds(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    text = graph_of(tmp_path / "text", fake_llm)
    assert all("response_format" not in body for body in extraction_requests(fake_llm))
    fake_llm.reset()
    as_json = graph_of(tmp_path / "json", fake_llm, entity_extraction_use_json=True)
    requests = extraction_requests(fake_llm)
    assert requests and all(body["response_format"] == {"type": "json_object"}
                            for body in requests)
    assert as_json == text
    assert "NASA" in as_json["nodes"]  # found by the gleaning pass, in JSON too
    assert len(as_json["edges"]) >= 2
