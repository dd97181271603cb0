"""Uploading pdf, docx, pptx and xlsx files: indexing, per-chunk sections, references."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, run, wait_track, workspace
from tests.unit.test_parse_formats import make_docx, make_pdf, make_pptx, make_xlsx

PDF_PAGES = [
    "Orion Labs builds weather satellites in Delft.",
    "Eve Adams leads the Orion Labs satellite program.",
    "The Helios probe launched from Kourou in spring.",
]


def upload(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    """Upload ``data`` as ``name`` and wait until it is processed or failed."""
    response = client.post("/documents/upload", files={"file": (name, data)})
    assert response.status_code == 200, response.text
    [doc] = wait_track(client, response.json()["track_id"])
    return doc


def naive_refs(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.post("/query", json={"query": query, "mode": "naive"})
    assert response.status_code == 200, response.text
    return response.json()["references"]


def ref_for(refs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [ref] = [r for r in refs if r["file_path"] == name]
    return ref


@pytest.fixture
def small_chunks(tmp_path: Path, fake_llm: FakeLLMServer) -> Iterator[TestClient]:
    """A client whose chunks are 16 tokens, so pdf pages land in different chunks."""
    settings = fake_settings(tmp_path, fake_llm, chunk_size=16, chunk_overlap_size=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_pdf_upload_references_carry_pages(client: TestClient) -> None:
    doc = upload(client, "satellites.pdf", make_pdf(PDF_PAGES))
    assert doc["status"] == "processed", doc
    assert doc["content_summary"].startswith("Orion Labs builds")
    ref = ref_for(naive_refs(client, "Who leads the Orion Labs satellite program?"), "satellites.pdf")
    assert ref["pages"] == [1, 2, 3]
    assert "slides" not in ref and "sheets" not in ref


def test_pdf_chunks_keep_their_pages_in_both_stores(small_chunks: TestClient) -> None:
    doc = upload(small_chunks, "satellites.pdf", make_pdf(PDF_PAGES))
    assert doc["status"] == "processed", doc
    ws = workspace(small_chunks)
    ids = [f"{doc['id']}-chunk-{i:03d}" for i in range(doc["chunks_count"])]
    records = run(small_chunks, ws.stores.text_chunks.get_by_ids, ids)
    assert [r["chunk_order_index"] for r in records] == list(range(len(ids)))
    assert records[0]["pages"][0] == 1 and records[-1]["pages"] == [3]
    assert any(len(r["pages"]) == 2 for r in records)  # a chunk spanning two pages
    assert sorted({p for r in records for p in r["pages"]}) == [1, 2, 3]
    vectors = run(small_chunks, ws.stores.chunks_vdb.get_by_ids, ids)
    assert [v["pages"] for v in vectors] == [r["pages"] for r in records]
    refs = naive_refs(small_chunks, "Where did the Helios probe launch?")
    pages = ref_for(refs, "satellites.pdf")["pages"]
    assert pages == sorted(set(pages)) and set(pages) <= {1, 2, 3}


def test_docx_upload_is_indexed_without_section_keys(client: TestClient) -> None:
    data = make_docx(["Orion Labs Report", "Eve Adams leads Orion Labs in Delft."],
                     table=[["Team", "Size"], ["Satellites", "40"]])
    doc = upload(client, "report.docx", data)
    assert doc["status"] == "processed", doc
    ref = ref_for(naive_refs(client, "Who leads Orion Labs?"), "report.docx")
    assert set(ref) == {"reference_id", "file_path"}


def test_pptx_upload_references_carry_slides(client: TestClient) -> None:
    data = make_pptx([("Orion Labs", "Eve Adams leads Orion Labs"), ("Helios", "The probe launched")])
    doc = upload(client, "deck.pptx", data)
    assert doc["status"] == "processed", doc
    ref = ref_for(naive_refs(client, "Who leads Orion Labs?"), "deck.pptx")
    assert ref["slides"] == [1, 2]


def test_xlsx_upload_references_carry_sheets_in_stream(client: TestClient) -> None:
    data = make_xlsx({"Sales": [["Region", "Amount"], ["Delft", 120]],
                      "Staff": [["Name", "Role"], ["Eve Adams", "Lead"]]})
    doc = upload(client, "book.xlsx", data)
    assert doc["status"] == "processed", doc
    assert ref_for(naive_refs(client, "Who is Eve Adams?"), "book.xlsx")["sheets"] == ["Sales", "Staff"]
    body = {"query": "Who is Eve Adams, the Lead?", "mode": "naive"}
    with client.stream("POST", "/query/stream", json=body) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert ref_for(lines[0]["references"], "book.xlsx")["sheets"] == ["Sales", "Staff"]


def test_plain_text_references_have_no_section_keys(client: TestClient) -> None:
    [doc] = wait_track(client, insert(client, "Eve Adams leads Orion Labs in Delft.", "eve.txt"))
    assert doc["status"] == "processed"
    ref = ref_for(naive_refs(client, "Who leads Orion Labs?"), "eve.txt")
    assert set(ref) == {"reference_id", "file_path"}


def test_corrupt_pdf_upload_fails_with_the_reason(client: TestClient) -> None:
    doc = upload(client, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    assert doc["status"] == "failed"
    assert doc["error_msg"].startswith("could not read PDF: "), doc["error_msg"]


def test_unsupported_types_still_refused_and_list_the_new_ones(client: TestClient) -> None:
    response = client.post("/documents/upload", files={"file": ("image.png", b"x")})
    assert response.status_code == 400
    assert ".pdf" in response.json()["detail"] and ".xlsx" in response.json()["detail"]
