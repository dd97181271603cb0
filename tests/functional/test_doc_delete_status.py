"""Deletes and clears in /documents/pipeline_status."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import insert, run, wait_track, workspace
from tests.functional.corpus import wait_for


def status(client: TestClient) -> dict[str, Any]:
    return client.get("/documents/pipeline_status").json()


def doc_id(client: TestClient, file_path: str) -> str:
    (record,) = run(client, workspace(client).stores.doc_status.by_file_path, file_path)
    return record["id"]


def delete(client: TestClient, *doc_ids: str) -> dict[str, Any]:
    response = client.request("DELETE", "/documents/delete_document", json={"doc_ids": list(doc_ids)})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_delete_shows_as_a_job_and_restores_idle(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    # GIVEN slow embeddings, so rebuilding what acme.txt shared with others takes a while
    fake_llm.delay = 0.3
    target = doc_id(indexed, "acme.txt")
    # WHEN it is deleted (the test client returns once the background delete is done,
    # so the request runs in a thread while the status is polled)
    worker = threading.Thread(target=delete, args=(indexed, target))
    worker.start()
    seen = wait_for(lambda: (s := status(indexed))["busy"] and s)
    worker.join()
    fake_llm.delay = 0.0
    # THEN the job was visible while it ran ...
    assert seen["job_name"] == "Deleting 1 Documents" and seen["docs"] == 1
    assert "Deleting 1 Documents" in seen["history_messages"]
    # ... and the record is idle again, with the outcome in the history
    after = status(indexed)
    assert after["busy"] is False and after["cancellation_requested"] is False
    assert after["latest_message"] == "Deletion finished: 1 of 1 documents deleted"
    assert after["cur_batch"] == 1
    assert any(m.startswith(f"Deleted document {target} (acme.txt)") for m in after["history_messages"])


def test_a_delete_during_indexing_keeps_the_indexing_job_shown(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    # GIVEN a document being indexed on a slow LLM
    fake_llm.chat_delay = 1.0
    track = insert(indexed, "Tom Hale met Una Voss in Rome.", "slow.txt")
    indexing = wait_for(lambda: (s := status(indexed))["busy"] and s)
    assert indexing["job_name"] == "slow.txt...[1 files]"
    # WHEN another document is deleted meanwhile
    assert delete(indexed, doc_id(indexed, "jones.txt"))["status"] == "deletion_started"
    # THEN the record still names the indexing job; the delete only added history lines
    during = status(indexed)
    assert during["busy"] is True and during["job_name"] == "slow.txt...[1 files]"
    assert "Deleting 1 Documents" in during["history_messages"]
    assert "Deletion finished: 1 of 1 documents deleted" in during["history_messages"]
    # AND clearing everything is refused while indexing runs
    assert indexed.delete("/documents").json() == {"status": "busy", "message": "Pipeline is busy"}
    [doc] = wait_track(indexed, track)
    fake_llm.chat_delay = 0.0
    assert doc["status"] == "processed" and status(indexed)["busy"] is False


def test_clear_is_a_job_with_a_fresh_history(indexed: TestClient) -> None:
    assert indexed.delete("/documents").json()["status"] == "success"
    after = status(indexed)
    assert after["busy"] is False and after["job_name"] == "Clearing Documents"
    assert after["history_messages"] == ["Clearing Documents", "Document clearing finished"]


def test_cancel_pipeline_answers_not_busy_once_a_delete_is_done(indexed: TestClient) -> None:
    delete(indexed, doc_id(indexed, "berlin.txt"))
    assert indexed.post("/documents/cancel_pipeline").json() == {
        "status": "not_busy", "message": "Pipeline is not currently running. No cancellation needed."}
