"""/query/data over HTTP: chunk rows with their PDF pages, and the 400 failure shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, run, wait_track, workspace
from tests.unit.test_parse_formats import make_pdf

PDF_PAGES = [
    "Orion Labs builds weather satellites in Delft.",
    "Eve Adams leads the Orion Labs satellite program.",
    "The Helios probe launched from Kourou in spring.",
]
QUESTION = "Where did the Helios probe launch from Kourou?"


@pytest.fixture
def pdf_client(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[TestClient]:
    """A client holding a processed 3-page PDF cut into 16-token chunks (one page or two each)."""
    settings = fake_settings(tmp_path, fake_llm, chunk_size=16, chunk_overlap_size=0)
    with TestClient(create_app(settings)) as client:
        response = client.post("/documents/upload",
                               files={"file": ("satellites.pdf", make_pdf(PDF_PAGES))})
        assert response.status_code == 200, response.text
        [doc] = wait_track(client, response.json()["track_id"])
        assert doc["status"] == "processed", doc
        yield client


def stored_pages(client: TestClient, chunk_ids: list[str]) -> list[list[int]]:
    ws = workspace(client)
    return [record["pages"] for record in run(client, ws.stores.text_chunks.get_by_ids, chunk_ids)]


def query_data(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/query/data", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "success", result
    return result["data"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": QUESTION, "mode": "naive"},  # chunks from the vector store
        {"query": QUESTION, "mode": "local", "ll_keywords": ["Kourou", "Helios"]},  # from the graph
        {"query": QUESTION, "mode": "mix"},  # both
    ],
    ids=["naive", "local", "mix"],
)
def test_chunk_rows_carry_their_pages(pdf_client: TestClient, body: dict[str, Any]) -> None:
    data = query_data(pdf_client, body)
    chunks = data["chunks"]
    assert chunks
    assert all({"reference_id", "content", "file_path", "chunk_id"} <= set(c) for c in chunks)
    assert [c["pages"] for c in chunks] == stored_pages(pdf_client, [c["chunk_id"] for c in chunks])
    assert all("slides" not in c and "sheets" not in c for c in chunks)
    [kourou] = [c for c in chunks if "Kourou" in c["content"]]
    assert 3 in kourou["pages"]
    [ref] = data["references"]
    assert ref["file_path"] == "satellites.pdf"
    assert ref["pages"] == sorted({p for c in chunks for p in c["pages"]})


def test_chunk_content_in_query_references_matches_the_retrieved_chunks(
    pdf_client: TestClient,
) -> None:
    body = {"query": QUESTION, "mode": "naive"}
    chunks = query_data(pdf_client, body)["chunks"]
    response = pdf_client.post("/query", json={**body, "include_chunk_content": True})
    [ref] = response.json()["references"]
    assert ref["content"] == [c["content"] for c in chunks if c["reference_id"] == ref["reference_id"]]
    assert ref["pages"] == sorted({p for c in chunks for p in c["pages"]})


def test_plain_text_chunk_rows_have_no_section_keys(indexed: TestClient) -> None:
    chunks = query_data(indexed, {"query": "Who founded Acme Corp?", "mode": "naive"})["chunks"]
    assert chunks and all(set(c) == {"reference_id", "content", "file_path", "chunk_id"}
                          for c in chunks)


# -------------------------------------------------------------------- 400 failures


def failure(message: str) -> dict[str, Any]:
    return {"status": "failure", "message": message, "data": {}, "metadata": {}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"query": "   "}', "Validation error: body -> query: Value error, Query must not be empty."),
        ('{"query": "ab"}', "Validation error: body: Value error, RAG query is too short. Enter at "
         "least 3 English characters or an equivalent combination where each Chinese, Japanese "
         "or Korean character counts as 2."),
        ('{"query": "Who is Alice?", "top_k": 0}',
         "Validation error: body -> top_k: Input should be greater than or equal to 1"),
        ('{"mode": "other"}', "Validation error: body -> query: Field required; "
         "body -> mode: Input should be 'local', 'global', 'hybrid', 'naive', 'mix' or 'bypass'"),
        ('{"query": "Who is Alice?",', "Validation error: body -> 26: JSON decode error"),
        ("", "Validation error: body: Field required"),
    ],
    ids=["empty", "short", "range", "fields", "json", "no-body"],
)
def test_invalid_bodies_are_400_naming_what_to_fix(
    client: TestClient, content: str, message: str
) -> None:
    response = client.post("/query/data", content=content,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == failure(message)


def test_a_body_that_is_not_text_is_400_not_500(client: TestClient) -> None:
    response = client.post("/query/data", content=b"\xff\xfe\x00\x01\xff",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == failure("Validation error: body: JSON decode error")


def test_a_hubs_many_relations_are_ranked_whole_and_cut_to_the_budget(client: TestClient) -> None:
    # GIVEN an indexed entity that then gains 400 relations of varied rank and weight
    [doc] = wait_track(client, insert(client, "Orion Labs builds weather satellites in Delft.",
                                      "orion.txt"))
    assert doc["status"] == "processed", doc
    ws = workspace(client)
    graph = ws.stores.graph
    hub = "Orion Labs"
    assert run(client, graph.has_node, hub)
    leaves = {f"Leaf {i:03d}": {"entity_id": f"Leaf {i:03d}", "entity_type": "concept",
                                "description": "a leaf", "source_id": "x", "file_path": "f"}
              for i in range(400)}
    run(client, graph.upsert_nodes, leaves)
    edges = {(hub, name): {"weight": float(i % 7), "description": f"{hub} and {name}",
                           "keywords": "k", "source_id": "x", "file_path": "f"}
             for i, name in enumerate(leaves)}
    edges |= {(f"Leaf {i:03d}", f"Leaf {i + 1:03d}"): {"weight": 1.0, "description": "next",
                                                        "source_id": "x", "file_path": "f"}
              for i in range(0, 399, 3)}
    run(client, graph.upsert_edges, edges)

    # WHEN a local query finds it, with room for only a few relations
    body = {"query": "Orion Labs", "mode": "local", "ll_keywords": ["Orion Labs"],
            "max_relation_tokens": 600, "max_entity_tokens": 100000}
    response = client.post("/query/data", json=body)
    assert response.status_code == 200, response.text
    data, info = response.json()["data"], response.json()["metadata"]["processing_info"]

    # THEN the relations are the best of all the entities' edges, in order: rank (sum of
    # degrees), then weight, then pair; and the count found covers every edge
    names = [e["entity_name"] for e in data["entities"]]
    assert hub in names
    incident = run(client, graph.node_edges, names)
    pairs = sorted({tuple(sorted(e)) for n in names for e in incident[n]})
    degrees = run(client, graph.node_degrees, sorted({n for p in pairs for n in p}))
    weights = {p: w.get("weight", 0.0) for p, w in run(client, graph.get_edges, pairs).items()}
    expected = sorted(pairs, key=lambda p: (-(degrees[p[0]] + degrees[p[1]]), -weights[p], p))
    got = [(r["src_id"], r["tgt_id"]) for r in data["relationships"]]
    assert 3 <= len(got) < 40
    assert got == expected[: len(got)]
    assert info["total_relations_found"] == len(pairs) > 400
    assert info["relations_after_truncation"] == len(got)
