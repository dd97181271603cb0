"""Workspace names from requests are validated, never sanitised: ``[A-Za-z0-9_]{1,64}`` or 400.

An invalid name reaches no store: nothing is created under WORKING_DIR or INPUT_DIR, and
no name can point outside them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.config import Settings

RULE = ("use 1 to 64 characters, each a letter, a digit or _ ([A-Za-z0-9_]{1,64}), "
        "not starting and ending with __ (reserved, e.g. __parsed__).")
INVALID: list[str | bytes] = [
    "../x", "..", "a/b", "a\\b", "%2e%2e", "%2e%2e%2fx", "team-a", "a.b", "a b", "x" * 65,
    "tab\there", "é".encode(),  # raw UTF-8 bytes arrive as latin-1 text
    "__parsed__", "__x__",  # reserved: INPUT_DIR/__parsed__ holds the default workspace's files
]
# (method, path, JSON body or None, files or None)
ROUTES: list[tuple[str, str, Any, Any]] = [
    ("GET", "/documents/status_counts", None, None),
    ("POST", "/documents/text", {"text": "Alice Smith founded Acme Corp.", "file_source": "a.txt"},
     None),
    ("POST", "/documents/upload", None, {"file": ("a.txt", b"Alice Smith founded Acme Corp.")}),
    ("POST", "/documents/scan", None, None),
    ("POST", "/query", {"query": "Who founded Acme Corp?", "mode": "bypass"}, None),
    ("POST", "/query/data", {"query": "Who founded Acme Corp?"}, None),
    ("GET", "/graph/label/list", None, None),
    ("GET", "/health", None, None),
    ("GET", "/api/tags", None, None),
    ("POST", "/api/chat", {"model": "lightrag:latest", "stream": False,
                           "messages": [{"role": "user", "content": "/bypass hi"}]}, None),
    ("GET", "/v1/models", None, None),
    ("POST", "/v1/chat/completions", {"model": "lightrag:latest",
                                      "messages": [{"role": "user", "content": "/bypass hi"}]},
     None),
]


def call(client: TestClient, route: tuple[str, str, Any, Any], workspace: str | bytes) -> Any:
    method, path, body, files = route
    return client.request(method, path, json=body, files=files,
                          headers={"LIGHTRAG-WORKSPACE": workspace})


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_invalid_names_are_400_on_every_route(client: TestClient, settings: Settings,
                                              route: tuple[str, str, Any, Any]) -> None:
    before = tree(settings.working_dir.parent)
    for name in INVALID:
        response = call(client, route, name)
        assert response.status_code == 400, (name, response.text)
        body = response.json()
        if route[1].startswith("/v1/"):  # OpenAI's error shape
            assert body["error"]["code"] == "invalid_workspace"
            message = body["error"]["message"]
        else:
            message = body["detail"]
            if route[1].startswith("/api/"):  # Ollama clients read "error"
                assert body["error"] == message
        assert message.startswith("Invalid workspace name ") and message.endswith(RULE)
    # THEN nothing was created anywhere near the storage or input directories
    assert tree(settings.working_dir.parent) == before


def test_valid_names_get_their_own_store(client: TestClient, settings: Settings) -> None:
    for name in ("team_A1", "x" * 64, "_"):
        response = call(client, ROUTES[0], name)
        assert response.status_code == 200, response.text
        assert (settings.working_dir / name).is_dir()
    # AND the names are exact: team_A1 is not team_a1
    assert not (settings.working_dir / "team_a1").exists()
    models = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert "lightrag:team_A1" in models


def test_an_empty_header_means_the_default_workspace(client: TestClient) -> None:
    response = client.get("/health", headers={"LIGHTRAG-WORKSPACE": ""})
    assert response.status_code == 200
    assert response.json()["configuration"]["workspace"] == ""


def test_chat_model_names_never_create_stores(client: TestClient, settings: Settings) -> None:
    before = tree(settings.working_dir.parent)
    for model in ("lightrag:../x", "lightrag:a/b", "lightrag:new_one"):
        response = client.post("/api/chat", json={"model": model, "stream": False,
                                                  "messages": [{"role": "user", "content": "Who is Alice?"}]})
        assert response.status_code == 404, response.text
    assert tree(settings.working_dir.parent) == before
