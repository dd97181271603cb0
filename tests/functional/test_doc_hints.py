"""Parser hints in file names: stored, compared and checked without them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lambdarag.config import Settings
from tests.functional.conftest import insert, wait_track
from tests.functional.corpus import wait_for

EVE = b"# Notes\nEve Adams runs Orion Labs in Delft."


def exists_message(name: str, verb: str) -> str:
    return (f"Document storage already contains '{name}' (Status: processed). "
            f"Delete the existing record before {verb}.")


def test_upload_stores_the_hint_free_name_and_refuses_it_again(client: TestClient, settings: Settings) -> None:
    response = client.post("/documents/upload", files={"file": ("notes.[mineru].md", EVE)})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == (
        "File 'notes.md' uploaded successfully. Processing will continue in background.")
    [doc] = wait_track(client, response.json()["track_id"])
    assert (doc["status"], doc["file_path"]) == ("processed", "notes.md")
    assert (settings.input_dir / "notes.md").exists()
    for name in ("notes.md", "notes.[native-iF].md"):
        again = client.post("/documents/upload", files={"file": (name, b"other text")})
        assert (again.status_code, again.json()["detail"]) == (409, exists_message("notes.md", "re-uploading"))


def test_the_extension_is_checked_after_the_hint_is_removed(client: TestClient) -> None:
    response = client.post("/documents/upload", files={"file": ("tool.[mineru].exe", b"MZ")})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unsupported file type. Supported types: (")


def test_a_hinted_file_waiting_in_the_input_dir_blocks_the_plain_name(client: TestClient, settings: Settings) -> None:
    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "plan.[mineru].txt").write_text("Pia Lind plans the launch.")
    response = client.post("/documents/upload", files={"file": ("plan.txt", b"another plan")})
    assert response.status_code == 409
    assert response.json()["detail"].startswith(
        "Input directory already contains a file with the same canonical basename (plan.txt).")


def test_text_file_sources_lose_folders_and_hints(client: TestClient) -> None:
    [doc] = wait_track(client, insert(client, "Pia Lind runs Sol Labs in Riga.", "in/sol.[mineru].txt"))
    assert (doc["status"], doc["file_path"]) == ("processed", "sol.txt")
    again = client.post("/documents/text", json={"text": "Other text.", "file_source": "sol.[docling].txt"})
    assert (again.status_code, again.json()["detail"]) == (409, exists_message("sol.txt", "re-inserting"))
    both = client.post("/documents/texts", json={"texts": ["One.", "Two."],
                                                 "file_sources": ["a.[mineru].txt", "a.txt"]})
    assert (both.status_code, both.json()["detail"]) == (400, "file_sources must be unique by filename")
    stored = client.post("/documents/texts", json={"texts": ["Three."], "file_sources": ["sol.[x].txt"]})
    assert (stored.status_code, stored.json()["detail"]) == (409, exists_message("sol.txt", "re-inserting"))


def test_scan_enqueues_a_hinted_file_under_its_canonical_name(client: TestClient, settings: Settings) -> None:
    settings.input_dir.mkdir(parents=True, exist_ok=True)
    (settings.input_dir / "memo.[mineru].txt").write_text("Ivo Kral leads Sol Labs.")
    track = client.post("/documents/scan").json()["track_id"]
    wait_for(lambda: client.get(f"/documents/scan/status/{track}").json()["status"] == "completed")
    assert client.get(f"/documents/scan/status/{track}").json()["counts"] == {"claimed_new": 1}
    [doc] = wait_track(client, track)
    assert (doc["status"], doc["file_path"]) == ("processed", "memo.txt")
    assert (settings.input_dir / "__parsed__" / "memo.[mineru].txt").exists()
