"""Source conflicts: several documents owning one canonical basename.

The API refuses a second document under a stored name (409), so a conflict only comes
from data written before those checks: LightRAG 1.4 derived doc ids from the content,
and older LambdaRAG stored names with their parser hints. ``legacy_document`` makes such
a document honestly: it is indexed without a name (a content id, as 1.4 did) and its
doc_status row is then given the name directly in the store, as an import of old data would.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from lambdarag.config import Settings
from tests.functional.conftest import insert, run, wait_track, workspace
from tests.functional.corpus import wait_for

BAD_CURSOR = ("Invalid cursor: pass the next_cursor of the previous response, "
              "or no cursor for the first page")


def indexed_document(client: TestClient, text: str, name: str | None) -> str:
    [doc] = wait_track(client, insert(client, text, name))
    assert doc["status"] == "processed", doc
    return doc["id"]


def legacy_document(client: TestClient, text: str, file_path: str) -> str:
    doc_id = indexed_document(client, text, None)
    ws = workspace(client)
    record = run(client, ws.stores.doc_status.get, doc_id)
    run(client, ws.stores.doc_status.upsert, [{**record, "file_path": file_path}])
    return doc_id


def report_conflict(client: TestClient) -> tuple[str, str]:
    """GIVEN report.txt owned by a current document and by a 1.4-style one."""
    current = indexed_document(client, "Vela Corp opened an office in Oslo.", "report.txt")
    legacy = legacy_document(client, "Vela Corp was founded by Nora Berg.", "report.txt")
    return current, legacy


def scan(client: TestClient) -> dict[str, Any]:
    track = client.post("/documents/scan").json()["track_id"]
    wait_for(lambda: client.get(f"/documents/scan/status/{track}").json()["status"] == "completed")
    return client.get(f"/documents/scan/status/{track}").json()


def repair(client: TestClient, **body: Any) -> Any:
    return client.post("/documents/source_conflicts/repair", json=body)


def test_scan_leaves_a_conflicting_file_untouched(client: TestClient, settings: Settings) -> None:
    report_conflict(client)
    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "report.txt").write_text("Vela Corp, third version.")
    status = scan(client)
    assert status["counts"] == {"source_conflict": 1}
    assert status["samples"]["source_conflict"] == {"items": ["report.txt"], "truncated": False, "dropped": 0}
    assert (settings.input_dir / "report.txt").exists()
    assert not (settings.input_dir / "__parsed__" / "report.txt").exists()


def test_conflicts_are_listed_by_canonical_name_in_pages(client: TestClient) -> None:
    current, legacy = report_conflict(client)
    memo = indexed_document(client, "Nora Berg wrote a memo about Oslo.", "memo.txt")
    hinted = legacy_document(client, "Nora Berg signed the memo.", "memo.[mineru].txt")
    first = client.get("/documents/source_conflicts", params={"limit": 1}).json()
    assert first["conflicts"] == [{"canonical_source_key": "memo.txt", "candidate_count": 2,
                                   "sample_doc_ids": sorted([memo, hinted])}]
    second = client.get("/documents/source_conflicts",
                        params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert second == {"conflicts": [{"canonical_source_key": "report.txt", "candidate_count": 2,
                                     "sample_doc_ids": sorted([current, legacy])}],
                      "next_cursor": None}
    assert [c["canonical_source_key"] for c in client.get("/documents/source_conflicts").json()[
        "conflicts"]] == ["memo.txt", "report.txt"]
    for cursor in ("not a cursor!", "cmVwb3J0eA", "%%", "//8="):  # bad chars or padding, not UTF-8
        bad = client.get("/documents/source_conflicts", params={"cursor": cursor})
        assert (bad.status_code, bad.json()["detail"]) == (400, BAD_CURSOR), cursor
    assert client.get("/documents/source_conflicts", params={"limit": 201}).status_code == 422


def test_unnamed_texts_and_duplicate_records_are_no_conflict(client: TestClient) -> None:
    indexed_document(client, "Ola Nord paints in Bergen.", None)
    indexed_document(client, "Kai Lund sails from Tromso.", None)
    [dup] = wait_track(client, insert(client, "Ola Nord paints in Bergen.", "copy.txt"))
    assert dup["metadata"]["is_duplicate"] and dup["file_path"] == "copy.txt"
    legacy_document(client, "Liv Dahl skis in Narvik.", "copy.txt")
    assert client.get("/documents/source_conflicts").json() == {"conflicts": [], "next_cursor": None}


def test_repair_dry_run_then_commit_demotes_without_losing_data(client: TestClient, settings: Settings) -> None:
    current, legacy = report_conflict(client)
    # unknown key, or a primary that is not a candidate: 404
    missing = repair(client, canonical_source_key="nothing.txt", primary_doc_id=current)
    assert missing.status_code == 404 and "GET /documents/source_conflicts" in missing.json()["detail"]
    stranger = repair(client, canonical_source_key="report.txt", primary_doc_id="doc-unknown")
    assert stranger.status_code == 404 and "primary_doc_id" in stranger.json()["detail"]
    # a dry run (the default) changes nothing
    dry = repair(client, canonical_source_key="report.txt", primary_doc_id=current).json()
    assert dry["committed"] is False and dry["candidate_count"] == 2
    assert dry["demoted_sample_doc_ids"] == [legacy]
    assert len(client.get("/documents/source_conflicts").json()["conflicts"]) == 1
    # a commit whose expectations are stale: 409
    for stale in ({"expected_candidate_count": 3}, {"expected_candidate_fingerprint": "0" * 32}):
        response = repair(client, canonical_source_key="report.txt", primary_doc_id=current,
                          dry_run=False, **stale)
        assert response.status_code == 409 and "dry run again" in response.json()["detail"]
    # the confirmed commit
    done = repair(client, canonical_source_key="report.txt", primary_doc_id=current, dry_run=False,
                  expected_candidate_count=2, expected_candidate_fingerprint=dry["fingerprint"]).json()
    assert done == {**dry, "committed": True}
    assert client.get("/documents/source_conflicts").json()["conflicts"] == []
    ws = workspace(client)
    kept = run(client, ws.stores.doc_status.get, legacy)
    assert kept["status"] == "processed" and kept["file_path"] == "report.txt"
    assert kept["metadata"]["demoted_by"] == current
    assert run(client, ws.stores.text_chunks.keys, f"{legacy}-chunk-")
    # and the next scan treats report.txt as the primary's, which is processed
    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "report.txt").write_text("Vela Corp, third version.")
    assert scan(client)["counts"] == {"processed": 1}
