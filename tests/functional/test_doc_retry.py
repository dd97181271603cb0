"""A failed document is retried by sending it again; a file that cannot be indexed is
refused at once, with nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import Settings
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, run, wait_track, workspace
from tests.unit.test_parse_formats import make_pdf

ORION = b"# Orion\nBob Jones runs Orion Labs in Delft."


def _fail_while(fake: FakeLLMServer, client: TestClient, send) -> dict:  # noqa: ANN001
    """Send a document while every provider call fails; returns its FAILED record."""
    fake.fail_next(200, status=400)  # not retried: the document fails at once
    response = send()
    assert response.status_code == 200, response.text
    [doc] = wait_track(client, response.json()["track_id"])
    fake.reset()
    assert doc["status"] == "failed", doc
    return doc


def _stored(client: TestClient) -> list[dict]:
    return client.post("/documents/paginated", json={"page": 1, "page_size": 100}).json()["documents"]


def test_uploading_a_failed_file_again_retries_it(
    client: TestClient, fake_llm: FakeLLMServer, settings: Settings,
) -> None:
    # GIVEN an upload whose document FAILED while the provider refused every call
    failed = _fail_while(fake_llm, client, lambda: client.post(
        "/documents/upload", files={"file": ("orion.md", b"# Orion\nfirst draft")}))
    assert (settings.input_dir / "orion.md").read_bytes() == b"# Orion\nfirst draft"
    # WHEN the file is uploaded again, corrected, with the provider back
    again = client.post("/documents/upload", files={"file": ("orion.md", ORION)})
    # THEN it is accepted (not 409) and indexed; the failed document is gone
    assert again.status_code == 200, again.text
    [doc] = wait_track(client, again.json()["track_id"])
    assert doc["status"] == "processed" and doc["content_summary"].startswith("# Orion\nBob")
    assert [(d["file_path"], d["status"]) for d in _stored(client)] == [("orion.md", "processed")]
    assert doc["track_id"] != failed["track_id"]
    assert (settings.input_dir / "orion.md").read_bytes() == ORION
    node = run(client, workspace(client).stores.graph.get_nodes, ["Orion Labs"])
    assert "Orion Labs" in node
    history = client.get("/documents/pipeline_status").json()["history_messages"]
    assert any(m.startswith("Retrying orion.md") for m in history)
    # AND a processed document is still refused
    third = client.post("/documents/upload", files={"file": ("orion.md", ORION)})
    assert third.status_code == 409


def test_inserting_a_failed_text_again_retries_it(client: TestClient, fake_llm: FakeLLMServer) -> None:
    _fail_while(fake_llm, client, lambda: client.post(
        "/documents/text", json={"text": "Ada Lovelace wrote notes.", "file_source": "ada.txt"}))
    [doc] = wait_track(client, insert(client, "Ada Lovelace wrote the first program.", "ada.txt"))
    assert doc["status"] == "processed"
    _fail_while(fake_llm, client, lambda: client.post(
        "/documents/texts", json={"texts": ["Cy Ode builds looms."], "file_sources": ["cy.txt"]}))
    again = client.post("/documents/texts", json={"texts": ["Cy Ode builds looms in Lyon."],
                                                  "file_sources": ["cy.txt"]})
    assert again.status_code == 200, again.text
    assert [d["status"] for d in wait_track(client, again.json()["track_id"])] == ["processed"]
    assert sorted((d["file_path"], d["status"]) for d in _stored(client)) == [
        ("ada.txt", "processed"), ("cy.txt", "processed")]


def test_reprocess_failed_retries_without_sending_again(
    client: TestClient, fake_llm: FakeLLMServer,
) -> None:
    doc = _fail_while(fake_llm, client, lambda: client.post(
        "/documents/text", json={"text": "Ida Wells founded Wells Freight.", "file_source": "ida.txt"}))
    assert client.post("/documents/reprocess_failed").json()["status"] == "reprocessing_started"
    [after] = wait_track(client, doc["track_id"])
    assert (after["id"], after["status"]) == (doc["id"], "processed")


PDF = make_pdf(["Helios launched from Kourou."])


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.txt", b"", "empty.txt is empty: there is no text to index"),
    ("blank.md", b"  \n\t\n", "blank.md is empty: there is no text to index"),
    ("empty.pdf", b"", "empty.pdf is empty: there is no text to index"),
    ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.txt looks like a binary file, not "
     "text: upload it under the extension of its real type"),
    ("late.md", b"a" * 5000 + b"\x00", None),  # NUL past the first 4096 bytes: text
    ("report.pdf", b"PK\x03\x04 a zip", "report.pdf is not a PDF file: it has no %PDF- header"),
    ("sheet.xlsx", PDF, "sheet.xlsx is not a XLSX file: it is not a zip container"),
])
def test_an_upload_that_cannot_be_indexed_is_refused_with_nothing_stored(
    client: TestClient, settings: Settings, name: str, content: bytes, message: str | None,
) -> None:
    response = client.post("/documents/upload", files={"file": (name, content)})
    if message is None:
        assert response.status_code == 200, response.text
        return
    assert (response.status_code, response.json()["detail"]) == (400, message)
    assert _stored(client) == []
    folder = settings.input_dir
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_large_binary_file_is_refused_and_not_kept(
    client: TestClient, settings: Settings,
) -> None:
    # a 3 MiB upload (three pieces) whose first bytes are binary
    content = b"\x00" * (3 * 1024 * 1024)
    response = client.post("/documents/upload", files={"file": ("dump.log", content)})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("dump.log looks like a binary file")
    assert not settings.input_dir.exists() or list(settings.input_dir.iterdir()) == []


def test_an_upload_over_max_upload_size_stores_nothing(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    settings = fake_settings(tmp_path, fake_llm, max_upload_size=10)
    with TestClient(create_app(settings)) as client:
        response = client.post("/documents/upload", files={"file": ("big.txt", b"x" * 11)})
        assert response.status_code == 413
        assert response.json()["detail"] == "File too large. Maximum size: 0.0MB, uploaded: 0.0MB"
        assert _stored(client) == []
    assert not settings.input_dir.exists() or list(settings.input_dir.iterdir()) == []


def test_a_refused_upload_leaves_the_failed_document_in_place(
    client: TestClient, fake_llm: FakeLLMServer,
) -> None:
    failed = _fail_while(fake_llm, client, lambda: client.post(
        "/documents/upload", files={"file": ("orion.md", ORION)}))
    response = client.post("/documents/upload", files={"file": ("orion.md", b"")})
    assert response.status_code == 400
    assert [(d["id"], d["status"]) for d in _stored(client)] == [(failed["id"], "failed")]
