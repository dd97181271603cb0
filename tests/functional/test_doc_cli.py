"""``lambdarag index`` takes the upload path: the file is stored and ``prepare`` parses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lambdarag import cli
from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM, fake_settings, run, workspace
from tests.functional.test_file_formats import PDF_PAGES
from tests.unit.test_parse_formats import make_pdf


def index(tmp_path: Path, fake: FakeLLMServer, *files: Path) -> int:
    return cli.main([
        "--working-dir", str(tmp_path / "rag_storage"),
        "--llm-binding", "openai", "--llm-model", "fake-llm", "--llm-binding-host", fake.openai_url,
        "--embedding-binding", "openai", "--embedding-model", "fake-embed",
        "--embedding-binding-host", fake.openai_url, "--embedding-dim", str(DIM),
        "index", "--input-dir", str(tmp_path / "inputs"), *map(str, files),
    ])


def test_cli_index_keeps_pdf_pages(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a three-page pdf (with a parser hint) and chunks small enough to split it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHUNK_SIZE", "16")
    monkeypatch.setenv("CHUNK_OVERLAP_SIZE", "0")
    source = tmp_path / "satellites.[mineru].pdf"
    source.write_bytes(make_pdf(PDF_PAGES))
    # WHEN it is indexed from the command line
    assert index(tmp_path, fake_llm, source) == 0
    assert "satellites.pdf: processed" in capsys.readouterr().out
    # THEN it was stored as an upload is, and its chunks carry their pages
    assert (tmp_path / "inputs" / "satellites.pdf").read_bytes() == source.read_bytes()
    settings = fake_settings(tmp_path, fake_llm, chunk_size=16, chunk_overlap_size=0)
    with TestClient(create_app(settings)) as client:
        ws = workspace(client)
        [record] = run(client, ws.stores.doc_status.by_file_path, "satellites.pdf")
        chunks = run(client, ws.stores.text_chunks.get_by_ids, record["chunks_list"])
        assert sorted({page for chunk in chunks for page in chunk["pages"]}) == [1, 2, 3]
        response = client.post("/query/data", json={"query": "Where did the Helios probe launch?",
                                                     "mode": "naive"})
        [ref] = [r for r in response.json()["data"]["references"] if r["file_path"] == "satellites.pdf"]
        assert set(ref["pages"]) <= {1, 2, 3} and ref["pages"]
    # AND indexing it again is reported, not duplicated
    assert index(tmp_path, fake_llm, source) == 0
    assert "satellites.[mineru].pdf: already stored (Document storage already contains 'satellites.pdf'" \
        in capsys.readouterr().out


def test_cli_index_refuses_unsupported_files(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ")
    assert index(tmp_path, fake_llm, tool, tmp_path / "missing.txt") == 1
    err = capsys.readouterr().err
    assert f"skipping {tool}: Unsupported file type" in err
    assert "skipping" in err and "missing.txt" in err
