"""Indexing through the HTTP API: graph content, lifecycle, duplicates, delete + rebuild."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lambdarag.indexing.merge import entity_vector_id, relation_vector_id
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import insert, run, wait_track, workspace
from tests.functional.corpus import CORPUS

SEP = "<SEP>"


def extraction_calls(fake: FakeLLMServer) -> int:
    return sum("---Input Text---" in str(body) for _, body in fake.requests)


def summary_calls(fake: FakeLLMServer) -> int:
    return sum("---Descriptions---" in str(body) for _, body in fake.requests)


def test_corpus_becomes_a_merged_graph(indexed: TestClient) -> None:
    # GIVEN the three corpus documents, processed
    ws = workspace(indexed)
    graph = ws.stores.graph
    # WHEN we read entities that several documents mention
    nodes = run(indexed, graph.get_nodes, ["Acme Corp", "Bob Jones", "NASA", "Alice Smith"])
    # THEN their descriptions and sources are merged across documents
    acme = nodes["Acme Corp"]
    assert acme["entity_type"] == "organization"
    assert set(acme["file_path"].split(SEP)) == {"acme.txt", "jones.txt"}
    assert "weather satellites" in acme["description"]
    assert "mentored Dana Green" in acme["description"]
    assert len(acme["source_id"].split(SEP)) == 2
    assert set(nodes["Alice Smith"]["file_path"].split(SEP)) == {"acme.txt", "berlin.txt"}
    # AND gleaning added the acronym the first pass missed
    assert nodes["NASA"]["entity_type"] == "organization"
    # AND relations carry keywords and live in the graph and the relation vectors
    edges = run(indexed, graph.get_edges, [("Acme Corp", "Alice Smith")])
    edge = edges[("Acme Corp", "Alice Smith")]
    assert edge["keywords"] == "founded"
    assert edge["weight"] >= 1.0
    vectors = run(indexed, ws.stores.relationships_vdb.get_by_ids,
                  [relation_vector_id("Alice Smith", "Acme Corp")])
    assert vectors[0] is not None and vectors[0]["src_id"] == "Acme Corp"


def test_document_status_lifecycle(client: TestClient) -> None:
    track_id = insert(client, CORPUS["acme.txt"], "docs/acme.txt")
    assert track_id.startswith("insert_")
    [doc] = wait_track(client, track_id)
    assert doc["status"] == "processed"
    assert doc["file_path"] == "acme.txt"  # basename kept
    assert doc["chunks_count"] == 1
    assert doc["content_summary"].startswith("Alice Smith founded")
    assert doc["content_length"] == len(CORPUS["acme.txt"])
    assert doc["id"].startswith("doc-")
    assert doc["created_at"].endswith("+00:00")


def test_same_file_source_is_refused_with_409(indexed: TestClient) -> None:
    response = indexed.post("/documents/text", json={"text": "Other text here.", "file_source": "acme.txt"})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Document storage already contains 'acme.txt' (Status: processed)")


def test_same_content_under_another_name_becomes_a_failed_duplicate(indexed: TestClient) -> None:
    track_id = insert(indexed, CORPUS["acme.txt"], "copy-of-acme.txt")
    [dup] = wait_track(indexed, track_id)
    assert dup["status"] == "failed"
    assert dup["id"].startswith("dup-")
    assert dup["error_msg"].startswith("Identical content already exists under another filename.")
    assert dup["metadata"]["duplicate_kind"] == "content_hash"


def test_delete_rebuilds_only_what_the_document_touched(indexed: TestClient, fake_llm: FakeLLMServer) -> None:
    ws = workspace(indexed)
    graph = ws.stores.graph
    jones_id = wait_track(indexed, insert(indexed, "Zoe Park visited Delft University.", "zoe.txt"))[0]["id"]
    extractions_before = extraction_calls(fake_llm)
    # WHEN jones.txt and zoe.txt are deleted
    doc_ids = [d["id"] for d in run(indexed, ws.stores.doc_status.by_file_path, "jones.txt")] + [jones_id]
    response = indexed.request("DELETE", "/documents/delete_document", json={"doc_ids": doc_ids})
    assert response.status_code == 200 and response.json()["status"] == "deletion_started"
    # THEN entities only those documents mentioned are gone, with their vectors
    nodes = run(indexed, graph.get_nodes, ["Dana Green", "Delft University", "Zoe Park", "Bob Jones", "Acme Corp"])
    assert "Dana Green" not in nodes and "Delft University" not in nodes and "Zoe Park" not in nodes
    gone = run(indexed, ws.stores.entities_vdb.get_by_ids, [entity_vector_id("Dana Green")])
    assert gone == [None]
    # AND shared entities are rebuilt from what remains
    assert "Delft" not in nodes["Bob Jones"]["description"]
    assert nodes["Bob Jones"]["file_path"] == "acme.txt"
    assert nodes["Acme Corp"]["file_path"] == "acme.txt"
    assert run(indexed, graph.get_edges, [("Bob Jones", "Delft University")]) == {}
    # AND nothing was extracted again (the fragments are kept per chunk)
    assert extraction_calls(fake_llm) == extractions_before
    statuses = run(indexed, ws.stores.doc_status.get_many, doc_ids)
    assert statuses == [None, None]


def test_reinserting_a_deleted_document_reuses_the_extraction_cache(
    indexed: TestClient, fake_llm: FakeLLMServer
) -> None:
    ws = workspace(indexed)
    [record] = run(indexed, ws.stores.doc_status.by_file_path, "berlin.txt")
    indexed.request("DELETE", "/documents/delete_document", json={"doc_ids": [record["id"]]})
    before = extraction_calls(fake_llm)
    [doc] = wait_track(indexed, insert(indexed, CORPUS["berlin.txt"], "berlin.txt"))
    assert doc["status"] == "processed"
    assert extraction_calls(fake_llm) == before
    assert "Carol White" in run(indexed, ws.stores.graph.get_nodes, ["Carol White"])


def test_summaries_run_at_the_threshold_and_are_not_redone_per_document(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    # GIVEN eight documents that each describe Zed Labs (FORCE_LLM_SUMMARY_ON_MERGE=8)
    for i in range(8):
        wait_track(client, insert(client, f"Zed Labs opened office number {i} in Porto.", f"zed{i}.txt"))
    node = run(client, workspace(client).stores.graph.get_nodes, ["Zed Labs"])["Zed Labs"]
    # THEN the eighth description triggered one LLM summary
    assert node["description"].startswith("Zed Labs (summary):")
    assert summary_calls(fake_llm) >= 1
    calls = summary_calls(fake_llm)
    # WHEN two more documents mention it
    for i in range(8, 10):
        wait_track(client, insert(client, f"Zed Labs opened office number {i} in Porto.", f"zed{i}.txt"))
    # THEN their descriptions are appended to the summary without a new LLM summary
    node = run(client, workspace(client).stores.graph.get_nodes, ["Zed Labs"])["Zed Labs"]
    assert summary_calls(fake_llm) == calls
    assert node["description"].startswith("Zed Labs (summary):")
    assert "office number 9" in node["description"]


def test_documents_index_concurrently(client: TestClient, fake_llm: FakeLLMServer) -> None:
    fake_llm.delay = 0.05
    tracks = [insert(client, f"Person{i} Alpha met Person{i} Beta in Town{i} Gamma.", f"c{i}.txt")
              for i in range(6)]
    for track in tracks:
        assert wait_track(client, track)[0]["status"] == "processed"
    # MAX_ASYNC=4 LLM slots were kept busy across documents
    assert fake_llm.max_concurrent >= 3


def test_an_llm_that_keeps_failing_marks_the_document_failed(client: TestClient, fake_llm: FakeLLMServer) -> None:
    fake_llm.fail_next(50, status=500)
    [doc] = wait_track(client, insert(client, "Ada Lovelace wrote notes.", "ada.txt"))
    fake_llm.reset()
    assert doc["status"] == "failed"
    # the reason names the host and the setting to fix, without a stack trace
    assert "_BINDING_HOST)" in doc["error_msg"] and "127.0.0.1" in doc["error_msg"]
    assert "Traceback" not in doc["error_msg"]
    status = client.get("/documents/pipeline_status").json()
    assert status["busy"] is False
    assert any("ada" in m or "Failed" in m for m in status["history_messages"])


def test_upload_indexes_a_text_file(client: TestClient, settings) -> None:  # noqa: ANN001
    response = client.post("/documents/upload", files={"file": ("notes.md", b"# Notes\nEve Adams runs Orion Labs.")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["track_id"].startswith("upload_")
    assert body["message"] == "File 'notes.md' uploaded successfully. Processing will continue in background."
    [doc] = wait_track(client, body["track_id"])
    assert doc["status"] == "processed"
    assert doc["content_summary"].startswith("# Notes")
    assert (settings.input_dir / "notes.md").exists()
    again = client.post("/documents/upload", files={"file": ("notes.md", b"other")})
    assert again.status_code == 409


def test_upload_rejects_unsafe_names_and_types(client: TestClient) -> None:
    cases = {"../evil.txt": "Unsafe filename detected", "a\\b.txt": "Unsafe filename detected",
             " lead.txt": "Invalid filename", "image.exe": "Unsupported file type"}
    for name, message in cases.items():
        response = client.post("/documents/upload", files={"file": (name, b"x")})
        assert response.status_code == 400, name
        assert response.json()["detail"].startswith(message)


def test_upload_over_the_size_limit_is_413(tmp_path, fake_llm: FakeLLMServer) -> None:  # noqa: ANN001
    from lambdarag.api.app import create_app
    from tests.functional.conftest import fake_settings

    with TestClient(create_app(fake_settings(tmp_path, fake_llm, max_upload_size=10))) as client:
        response = client.post("/documents/upload", files={"file": ("big.txt", b"x" * 11)})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("File too large. Maximum size:")


def test_deleting_a_document_while_its_chunks_are_embedded_leaves_no_vector(
    indexed: TestClient, fake_llm: FakeLLMServer
) -> None:
    from tests.functional.corpus import wait_for

    ws = workspace(indexed)
    # GIVEN a document whose chunk embedding request is in flight on a slow provider
    fake_llm.delay = 0.5
    track = insert(indexed, "Vera Holt mapped the Kessel Reef with Ido Marsh.", "vera.txt")
    wait_for(lambda: any("Kessel Reef" in str(body) for path, body in fake_llm.requests
                         if "embed" in path))
    doc_id = indexed.get(f"/documents/track_status/{track}").json()["documents"][0]["id"]
    # WHEN it is deleted before the embeddings come back
    response = indexed.request("DELETE", "/documents/delete_document", json={"doc_ids": [doc_id]})
    assert response.json()["status"] == "deletion_started"
    wait_for(lambda: run(indexed, ws.stores.doc_status.get, doc_id) is None)
    run(indexed, indexed.app.state.engine.runner.wait_idle)  # type: ignore[attr-defined]
    fake_llm.delay = 0.0
    # THEN the chunk vectors written after the delete are removed by the pipeline itself
    assert run(indexed, ws.stores.chunks_vdb.get_by_ids, [f"{doc_id}-chunk-000"]) == [None]
    assert run(indexed, ws.stores.text_chunks.keys, doc_id) == []
    assert run(indexed, ws.stores.doc_status.get, doc_id) is None


def test_deleting_a_document_while_it_is_being_indexed_leaves_nothing_behind(
    indexed: TestClient, fake_llm: FakeLLMServer
) -> None:
    ws = workspace(indexed)
    before = run(indexed, ws.stores.graph.counts)
    # GIVEN a document whose extraction call is in flight on a slow LLM
    fake_llm.chat_delay = 0.4
    track = insert(indexed, "Quinn Harper sailed to Marlow Island with Rex Dunn.", "quinn.txt")
    from tests.functional.corpus import wait_for

    wait_for(lambda: any("Quinn Harper" in str(body) for _, body in fake_llm.requests))
    doc_id = indexed.get(f"/documents/track_status/{track}").json()["documents"][0]["id"]
    # WHEN it is deleted before the LLM answers
    response = indexed.request("DELETE", "/documents/delete_document", json={"doc_ids": [doc_id]})
    assert response.json()["status"] == "deletion_started"
    run(indexed, indexed.app.state.engine.runner.wait_idle)  # type: ignore[attr-defined]
    fake_llm.chat_delay = 0.0
    # THEN none of its rows, fragments, vectors or graph elements survive
    stores = ws.stores
    assert run(indexed, stores.doc_status.get, doc_id) is None
    assert run(indexed, stores.text_chunks.keys, doc_id) == []
    assert run(indexed, stores.fragments.keys_for_chunks, [f"{doc_id}-chunk-000"]) == (set(), set())
    assert run(indexed, stores.chunks_vdb.get_by_ids, [f"{doc_id}-chunk-000"]) == [None]
    assert run(indexed, stores.graph.get_nodes, ["Quinn Harper", "Marlow Island", "Rex Dunn"]) == {}
    assert run(indexed, stores.graph.counts) == before
    # AND the same document can be inserted again and indexed normally
    [doc] = wait_track(indexed, insert(indexed, "Quinn Harper sailed to Marlow Island with Rex Dunn.", "quinn.txt"))
    assert doc["status"] == "processed"
    assert "Quinn Harper" in run(indexed, stores.graph.get_nodes, ["Quinn Harper"])
