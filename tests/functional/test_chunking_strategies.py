"""LightRAG 1.5's chunking strategies on /documents/text and /documents/texts.

GIVEN a text and a ``chunking`` request (or the server's CHUNK_<F|R|V|P>_* defaults),
WHEN it is indexed, THEN its chunks are cut as the strategy says, the choice is frozen
with the document, and a request the server cannot follow is refused with 422 before
anything is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, run, wait_track, workspace
from tests.settings_refusal import refusal


def paragraphs(name: str) -> list[str]:
    """Six paragraphs of about 60 tokens (whole ones fit a 150-token chunk two at a time),
    naming ``name`` so that no two documents have the same content."""
    return [" ".join(f"Paragraph {p} of {name} is about harbour crane {p} and its crew, "
                     f"sentence {s}." for s in range(3)) for p in range(6)]


def text_of(name: str) -> str:
    return "\n\n".join(paragraphs(name))


TEXT = text_of("the test")
CATS = [f"Cats purr softly and cats nap in the sun, cat fact {i}." for i in range(6)]
BONDS = [f"Bonds yield coupons and bond markets price credit risk, bond fact {i}." for i in range(6)]


def insert(client: TestClient, text: str, source: str, chunking: dict[str, Any] | None) -> Any:
    body: dict[str, Any] = {"text": text, "file_source": source}
    if chunking is not None:
        body["chunking"] = chunking
    return client.post("/documents/text", json=body)


def chunks_of(client: TestClient, source: str, chunking: dict[str, Any] | None) -> list[str]:
    response = insert(client, _text_for(source), source, chunking)
    assert response.status_code == 200, response.text
    [doc] = wait_track(client, response.json()["track_id"])
    assert doc["status"] == "processed", doc
    records = run(client, workspace(client).stores.text_chunks.get_by_ids,
                  [f"{doc['id']}-chunk-{i:03d}" for i in range(doc["chunks_count"])])
    return [record["content"] for record in records]


def _text_for(source: str) -> str:
    if source.startswith("topics"):
        return " ".join(CATS + BONDS)
    if source.startswith("paper"):
        return text_of(source) + "\n\n## References\n\n[1] A. Author. Cranes of the world. " \
                                 "1999.\n[2] B. Writer. Harbour crews. 2004."
    return text_of(source)


def full_doc(client: TestClient, source: str) -> dict[str, Any]:
    docs = client.post("/documents/paginated", json={"page_size": 100}).json()["documents"]
    [doc] = [d for d in docs if d["file_path"] == source]
    record: dict[str, Any] = run(client, workspace(client).stores.full_docs.get_by_id, doc["id"])
    return record


def test_recursive_character_keeps_paragraphs_whole(client: TestClient) -> None:
    # WHEN the same text is chunked in token windows and recursively, 150 tokens each
    windows = chunks_of(client, "fixed.txt", {"strategy": "fixed_token",
                                              "params": {"chunk_token_size": 150,
                                                         "chunk_overlap_token_size": 0}})
    recursive = chunks_of(client, "recursive.txt", {"strategy": "recursive_character",
                                                    "params": {"chunk_token_size": 150,
                                                               "chunk_overlap_token_size": 0}})
    # THEN the windows cut paragraphs, and the recursive chunks are whole paragraphs
    assert any(not chunk.endswith(".") for chunk in windows)
    assert len(recursive) == 3
    assert recursive == ["\n\n".join(paragraphs("recursive.txt")[i:i + 2]) for i in (0, 2, 4)]
    # AND the choice is frozen with the document, in LightRAG's record shape
    frozen = full_doc(client, "recursive.txt")
    assert frozen["process_options"] == "R"
    # AND the document's status says how it was chunked, as LightRAG's does
    [doc] = [d for d in client.post("/documents/paginated", json={}).json()["documents"]
             if d["file_path"] == "recursive.txt"]
    assert {k: doc["metadata"][k] for k in ("chunk_method", "chunk_opts")} == {
        "chunk_method": "recursive_character", "chunk_opts": "size=150, overlap=0"}
    assert frozen["chunk_options"] == {
        "chunk_token_size": 150,
        "recursive_character": {"chunk_overlap_token_size": 0}}


def test_semantic_vector_cuts_where_the_topic_changes(client: TestClient) -> None:
    chunks = chunks_of(client, "topics.txt", {"strategy": "semantic_vector", "params": {}})
    assert chunks == [" ".join(CATS), " ".join(BONDS)]


def test_paragraph_semantic_can_drop_the_references(client: TestClient) -> None:
    kept = chunks_of(client, "paper.txt", {"strategy": "paragraph_semantic"})
    dropped = chunks_of(client, "paper2.txt", {"strategy": "paragraph_semantic",
                                               "params": {"drop_references": True}})
    assert "Cranes of the world" in kept[-1]
    assert not any("Cranes of the world" in c or "References" in c for c in dropped)
    assert dropped == [text_of("paper2.txt")]  # 2,000 tokens by default: one chunk of the rest
    assert full_doc(client, "paper2.txt")["chunk_options"] == {
        "chunk_token_size": 2000,
        "paragraph_semantic": {"chunk_overlap_token_size": 100, "drop_references": True}}


@pytest.mark.parametrize(("chunking", "expected"), [
    ({"strategy": "recursive_character", "params": {"chunk_size": 100}}, "Extra inputs are not permitted"),
    ({"strategy": "fixed_token", "params": {"chunk_token_size": "100"}}, "Input should be a valid integer"),
    ({"strategy": "fixed_token", "params": {"chunk_token_size": 100, "chunk_overlap_token_size": 100}},
     "chunk_overlap_token_size must be < chunk_token_size"),
    ({"strategy": "semantic_vector", "params": {"breakpoint_threshold_type": "percentile",
                                                "breakpoint_threshold_amount": 150}},
     "must be within (0, 100] for percentile/gradient"),
    ({"strategy": "semantic_vector", "params": {"sentence_split_regex": "(a+)+$"}},
     "Extra inputs are not permitted"),
    ({"strategy": "markdown"}, "Input should be 'fixed_token'"),
    ({"strategy": "fixed_token", "extra": 1}, "Extra inputs are not permitted"),
])
def test_a_bad_chunking_request_is_422_and_stores_nothing(
    client: TestClient, chunking: dict[str, Any], expected: str
) -> None:
    response = insert(client, TEXT, "bad.txt", chunking)
    assert response.status_code == 422
    assert expected in response.text
    assert client.post("/documents/paginated", json={}).json()["documents"] == []


def test_custom_chunking_is_refused_in_lightrags_words(client: TestClient) -> None:
    response = client.post("/documents/texts", json={
        "texts": [TEXT], "file_sources": ["a.txt"], "chunking": {"strategy": "custom"}})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "Invalid chunking configuration: custom chunking requires a chunking function")
    assert client.post("/documents/paginated", json={}).json()["documents"] == []


def test_the_servers_strategy_defaults_fill_what_a_request_leaves_out(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    settings = fake_settings(tmp_path, fake_llm, chunk_r_size=150, chunk_r_overlap_size=0)
    with TestClient(create_app(settings)) as client:
        chunks = chunks_of(client, "defaults.txt", {"strategy": "recursive_character"})
        assert len(chunks) == 3
        assert full_doc(client, "defaults.txt")["chunk_options"]["chunk_token_size"] == 150


@pytest.mark.parametrize(("env", "expected"), [
    ({"CHUNK_R_SEPARATORS": "[not json"}, "CHUNK_R_SEPARATORS"),
    ({"CHUNK_V_BREAKPOINT_THRESHOLD_TYPE": "median"}, "CHUNK_V_BREAKPOINT_THRESHOLD_TYPE"),
    ({"CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT": "150"},
     "CHUNK_V_BREAKPOINT_THRESHOLD_AMOUNT must be within (0, 100]"),
    ({"CHUNK_V_SENTENCE_SPLIT_REGEX": "(unclosed"}, "CHUNK_V_SENTENCE_SPLIT_REGEX: is not a regular"),
    ({"CHUNK_P_SIZE": "200", "CHUNK_P_OVERLAP_SIZE": "200"}, "CHUNK_P_OVERLAP_SIZE (200) must be smaller"),
    ({"CHUNK_F_SIZE": "50"}, "CHUNK_OVERLAP_SIZE (100) must be smaller than CHUNK_F_SIZE (50)"),
])
def test_a_bad_strategy_default_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    assert expected in refusal(monkeypatch, env)


def test_an_uploads_parser_hint_picks_the_strategy(client: TestClient) -> None:
    # GIVEN a file named with LightRAG's hint for recursive chunking
    response = client.post("/documents/upload",
                           files={"file": ("hinted.[-R].md", text_of("hinted").encode())})
    assert response.status_code == 200, response.text
    [doc] = wait_track(client, response.json()["track_id"])
    # THEN it is known by its canonical name and chunked recursively with the defaults
    assert (doc["file_path"], doc["status"]) == ("hinted.md", "processed")
    frozen = full_doc(client, "hinted.md")
    assert frozen["process_options"] == "R"
    assert frozen["chunk_options"] == {"chunk_token_size": 1200, "recursive_character": {
        "chunk_overlap_token_size": 100}}


def test_an_upload_hinting_custom_chunking_is_422_before_it_is_stored(
    client: TestClient, settings: Any
) -> None:
    response = client.post("/documents/upload", files={"file": ("c.[-C].md", b"Some text.")})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Invalid chunking configuration: custom")
    assert not list(settings.input_dir.glob("c*"))


def test_a_scanned_files_hint_picks_the_strategy(client: TestClient, settings: Any) -> None:
    from tests.functional.corpus import wait_for

    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "scanned.[-P].txt").write_text(text_of("scanned"))
    (settings.input_dir / "custom.[-C].txt").write_text(text_of("custom"))
    track = client.post("/documents/scan").json()["track_id"]
    wait_for(lambda: client.get(f"/documents/scan/status/{track}").json()["status"] == "completed")
    wait_for(lambda: {d["status"] for d in client.post("/documents/paginated", json={})
                      .json()["documents"]} == {"processed"})
    assert full_doc(client, "scanned.txt")["process_options"] == "P"
    assert "process_options" not in full_doc(client, "custom.txt")  # a scan falls back to F
