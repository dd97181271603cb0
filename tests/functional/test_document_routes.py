"""The rest of /documents/* and /query/data, over HTTP."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from lambdarag.config import Settings
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, wait_track
from tests.functional.corpus import CORPUS, wait_for

ALL = ("pending", "parsing", "analyzing", "processing", "preprocessed", "processed", "failed")


def test_paginated_lists_filters_sorts_and_counts(indexed: TestClient) -> None:
    body = indexed.post("/documents/paginated", json={"page_size": 10, "sort_field": "file_path",
                                                     "sort_direction": "asc"}).json()
    assert [d["file_path"] for d in body["documents"]] == sorted(CORPUS)
    assert body["pagination"] == {"page": 1, "page_size": 10, "total_count": 3, "total_pages": 1,
                                  "has_next": False, "has_prev": False}
    assert body["status_counts"] == {**dict.fromkeys(ALL, 0), "processed": 3, "all": 3}
    failed_only = indexed.post("/documents/paginated", json={"status_filters": ["failed"]}).json()
    assert failed_only["documents"] == [] and failed_only["pagination"]["total_pages"] == 0
    assert indexed.post("/documents/paginated", json={"page_size": 5}).status_code == 422
    assert indexed.post("/documents/paginated", json={"status_filter": "done"}).status_code == 422


def test_status_counts_and_the_14_listing(indexed: TestClient) -> None:
    counts = indexed.get("/documents/status_counts").json()["status_counts"]
    assert counts["processed"] == 3 and counts["all"] == 3 and counts["pending"] == 0
    statuses = indexed.get("/documents").json()["statuses"]
    assert sorted(d["file_path"] for d in statuses["processed"]) == sorted(CORPUS)
    assert statuses["failed"] == []


def test_supported_file_types_are_not_cached(client: TestClient) -> None:
    response = client.get("/documents/supported_file_types")
    assert response.headers["cache-control"] == "no-store"
    assert "LIGHTRAG-WORKSPACE" in response.headers["vary"].split(", ")  # (CORS adds Origin)
    assert ".md" in response.json()["supported_extensions"]


def test_texts_need_one_valid_file_source_each(client: TestClient) -> None:
    """LightRAG 1.5.x: 400, not 422, and nothing is stored."""
    bodies = [
        {"texts": ["One.", "Two."]},
        {"texts": ["One.", "Two."], "file_sources": ["a.txt"]},
        {"texts": ["One.", "Two."], "file_sources": ["a.txt", "no-file-path"]},
        {"texts": ["One."], "file_sources": ["bad\x01name.txt"]},
    ]
    for body in bodies:
        response = client.post("/documents/texts", json=body)
        assert (response.status_code, response.json()) == (
            400, {"detail": "A valid file_source is required for each text"}), body
    same = client.post("/documents/texts", json={"texts": ["One.", "Two."], "file_sources": ["x/a.txt", "a.txt"]})
    assert (same.status_code, same.json()["detail"]) == (400, "file_sources must be unique by filename")
    ok = client.post("/documents/texts", json={"texts": ["Ada Lovelace wrote notes."], "file_sources": ["ada.txt"]})
    assert ok.json()["message"] == "Texts successfully received. Processing will continue in background."
    assert [d["status"] for d in wait_track(client, ok.json()["track_id"])] == ["processed"]


def test_an_upload_without_a_filename_is_400(client: TestClient) -> None:
    response = client.post("/documents/upload", files={"file": ("", b"Ada Lovelace wrote notes.")})
    assert (response.status_code, response.json()) == (400, {"detail": "Filename cannot be empty"})


def test_reprocess_failed_retries_with_the_original_track(client: TestClient, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(50, status=500)
    track = insert(client, "Ada Lovelace wrote notes.", "ada.txt")
    assert wait_track(client, track)[0]["status"] == "failed"
    fake_llm.reset()
    response = client.post("/documents/reprocess_failed").json()
    assert response["status"] == "reprocessing_started"
    wait_for(lambda: wait_track(client, track)[0]["status"] == "processed")


def test_cancel_pipeline(client: TestClient, fake_llm: FakeLLMServer) -> None:
    assert client.post("/documents/cancel_pipeline").json() == {
        "status": "not_busy", "message": "Pipeline is not currently running. No cancellation needed."}
    fake_llm.chat_delay = 0.3
    track = insert(client, "Tom Hale met Una Voss in Rome. Una Voss met Ivo Kral.", "slow.txt")
    wait_for(lambda: client.get("/documents/pipeline_status").json()["busy"])
    assert client.post("/documents/cancel_pipeline").json() == {
        "status": "cancellation_requested",
        "message": "Pipeline cancellation has been requested. Documents will be marked as FAILED."}
    [doc] = wait_track(client, track)
    fake_llm.chat_delay = 0.0
    assert doc["status"] == "failed" and doc["error_msg"] == "User cancelled"


def test_clear_documents_keeps_the_llm_cache_and_clear_cache_drops_it(indexed: TestClient, settings: Settings) -> None:
    response = indexed.delete("/documents").json()
    assert response == {"status": "success", "message": "All documents cleared successfully. Deleted 0 files."}
    assert indexed.get("/documents/status_counts").json()["status_counts"]["all"] == 0
    assert indexed.get("/health").json()["graph"] == {"nodes": 0, "edges": 0}
    assert indexed.post("/documents/clear_cache", json={}).json() == {
        "status": "success", "message": "Successfully cleared all cache"}


def test_scan_enqueues_new_files_and_moves_them(client: TestClient, settings: Settings) -> None:
    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "scan1.txt").write_text("Pia Lind runs Sol Labs in Riga.")
    (settings.input_dir / "skip.exe").write_bytes(b"MZ")
    response = client.post("/documents/scan").json()
    assert response["status"] == "scanning_started" and response["track_id"].startswith("scan_")
    wait_for(lambda: client.get(f"/documents/scan/status/{response['track_id']}").json()["status"] == "completed")
    status = client.get(f"/documents/scan/status/{response['track_id']}").json()
    assert status["counts"] == {"claimed_new": 1, "unsupported": 1}
    assert (settings.input_dir / "__parsed__" / "scan1.txt").exists()
    [doc] = wait_track(client, response["track_id"])
    assert doc["status"] == "processed" and doc["file_path"] == "scan1.txt"
    assert client.get("/documents/scan/status/scan_unknown").status_code == 404


def test_query_data_returns_structured_retrieval(indexed: TestClient) -> None:
    body = indexed.post("/query/data", json={"query": "Who founded Acme Corp?", "mode": "hybrid"}).json()
    assert body["status"] == "success" and body["message"] == "Query processed successfully"
    names = {e["entity_name"] for e in body["data"]["entities"]}
    assert "Acme Corp" in names
    assert set(body["data"]["entities"][0]) == {"entity_name", "entity_type", "description", "source_id",
                                                "file_path", "created_at"}
    assert body["data"]["chunks"][0]["chunk_id"].startswith("doc-")
    assert body["data"]["references"][0]["reference_id"] == "1"
    assert body["metadata"]["query_mode"] == "hybrid"
    assert body["metadata"]["processing_info"]["final_chunks_count"] == len(body["data"]["chunks"])
    naive = indexed.post("/query/data", json={"query": "Who founded Acme Corp?", "mode": "naive"}).json()
    assert naive["data"]["entities"] == [] and set(naive["metadata"]["processing_info"]) == {
        "total_chunks_found", "final_chunks_count"}
    bypass = indexed.post("/query/data", json={"query": "hi", "mode": "bypass"}).json()
    assert bypass["data"]["chunks"] == [] and bypass["metadata"]["query_mode"] == "bypass"


def test_query_data_failures_use_its_own_shape(indexed: TestClient) -> None:
    bad = indexed.post("/query/data", json={"query": "hi", "top_k": 0})
    assert bad.status_code == 400
    assert bad.json()["status"] == "failure"
    assert bad.json()["message"].startswith("Validation error: ")
    assert "top_k" in bad.json()["message"]
    none = indexed.post("/query/data", json={"query": "xylophone quasar zebra", "mode": "local"}).json()
    assert none == {"status": "failure", "message": "Query returned no results", "data": {},
                    "metadata": {"failure_reason": "no_results", "mode": "local"}}


def test_force_reset_answers_that_no_workspace_is_fenced(client: TestClient) -> None:
    # LightRAG 1.5 scripts call this after a crash; here nothing is ever fenced
    refused = client.post("/documents/recovery/force_reset", json={})
    assert (refused.status_code, refused.json()["detail"]) == (400, "Set confirm=true to force-reset.")
    reset = client.post("/documents/recovery/force_reset", json={"confirm": True})
    assert reset.status_code == 200
    assert reset.json()["status"] == "no_recovery_required"
    assert reset.json()["cancelled_manual_retries"] == 0


def test_more_texts_than_max_texts_per_request_is_413(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    with TestClient(create_app(fake_settings(tmp_path, fake_llm, max_texts_per_request=2))) as client:
        body = {"texts": ["One.", "Two.", "Three."], "file_sources": ["1.txt", "2.txt", "3.txt"]}
        response = client.post("/documents/texts", json=body)
        assert (response.status_code, response.json()["detail"]) == (
            413, "Too many texts in one request: 3 (maximum 2). Split the batch into smaller requests.")
        assert client.post("/documents/paginated", json={}).json()["documents"] == []
        two = {"texts": ["One.", "Two."], "file_sources": ["1.txt", "2.txt"]}
        assert client.post("/documents/texts", json=two).status_code == 200
