"""The command line: LightRAG's options anywhere, and index, status, retry, delete and query
as a user runs them, with the fake provider up, down and refusing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarag import cli
from lambdarag.api.schemas import QueryRequest
from lambdarag.cli import options
from lambdarag.config import Settings
from lambdarag.query.param import TOO_SHORT
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM

ROOT = Path(__file__).resolve().parents[2]
# `lightrag-server --help` of LightRAG 1.5.7 (with LLM_BINDING=openai for the openai family).
LIGHTRAG_OPTIONS = {
    "--host": "127.0.0.1", "--port": "9622", "--working-dir": "w", "--input-dir": "i",
    "--timeout": "150", "--max-async": "3", "--summary-max-tokens": "900",
    "--summary-context-size": "8000", "--summary-length-recommended": "300",
    "--log-level": "DEBUG", "--verbose": None, "--key": "k" * 32, "--ssl": None,
    "--ssl-certfile": "c.pem", "--ssl-keyfile": "k.pem", "--simulated-model-name": "kb",
    "--simulated-model-tag": "v2", "--workspace": "team", "--api-prefix": "/site01",
    "--default-ui": "webui", "--workers": "2", "--llm-binding": "openai",
    "--embedding-binding": "ollama", "--rerank-binding": "cohere",
    "--ollama-llm-num_ctx": "8192", "--ollama-llm-stop": '["</s>"]', "--ollama-llm-think": "high",
    "--ollama-embedding-num_ctx": "4096", "--ollama-embedding-use_mmap": "true",
    "--openai-llm-temperature": "0.2", "--openai-llm-max_completion_tokens": "512",
    "--openai-llm-extra_body": '{"reasoning": {"enabled": false}}',
}


def args_for(fake: FakeLLMServer, tmp_path: Path) -> list[str]:
    return ["--working-dir", str(tmp_path / "rag_storage"), "--input-dir", str(tmp_path / "inputs"),
            "--llm-binding", "openai", "--llm-model", "fake-llm", "--llm-binding-host", fake.openai_url,
            "--embedding-binding", "openai", "--embedding-model", "fake-embed",
            "--embedding-binding-host", fake.openai_url, "--embedding-dim", str(DIM)]


def provider_env(fake: FakeLLMServer) -> dict[str, str]:
    """The server's LLM_* and EMBEDDING_* variables, which the command reads too."""
    return {"LLM_BINDING": "openai", "LLM_MODEL": "fake-llm", "LLM_BINDING_HOST": fake.openai_url,
            "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
            "EMBEDDING_BINDING_HOST": fake.openai_url, "EMBEDDING_DIM": str(DIM),
            "LLM_MAX_RETRIES": "0"}


@pytest.fixture
def run(tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    """``run(command, *arguments)`` -> (exit status, stdout, stderr), in ``tmp_path`` with
    the provider set by the environment (./rag_storage and ./inputs by default)."""
    monkeypatch.chdir(tmp_path)
    for name, value in provider_env(fake_llm).items():
        monkeypatch.setenv(name, value)

    def run_cli(command: str, *arguments: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main([command, *arguments])
        out, err = capsys.readouterr()
        return code, out, err

    return run_cli


def test_serve_accepts_every_option_of_lightrag_1_5_7() -> None:
    parser = cli.main.__globals__["_parser"]()
    argv = ["serve"]
    for flag, value in LIGHTRAG_OPTIONS.items():
        argv += [flag] if value is None else [flag, value]
    args = parser.parse_args(argv)
    given = options.overrides(args)
    assert set(options.given_flags(args)) == set(LIGHTRAG_OPTIONS)
    assert given["cli_binding_options"] == {
        "ollama_llm": {"num_ctx": 8192, "stop": ["</s>"], "think": "high"},
        "ollama_embedding": {"num_ctx": 4096, "use_mmap": True},
        "openai_llm": {"temperature": 0.2, "max_completion_tokens": 512,
                       "extra_body": {"reasoning": {"enabled": False}}},
    }
    assert (given["port"], given["workers"], given["ssl"], given["lightrag_api_key"]) == (
        9622, 2, True, "k" * 32)


def test_each_option_sets_the_setting_lightrag_reads_from_its_variable() -> None:
    for option in options.OPTIONS:
        field = Settings.model_fields[option.setting]
        alias = field.validation_alias
        names = {str(n).upper() for n in getattr(alias, "choices", [])} or {option.setting.upper()}
        assert option.variable in names, option.flag


def test_options_work_before_and_after_the_subcommand_and_beat_the_environment(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKING_DIR", str(tmp_path / "from_env"))
    note = tmp_path / "acme.txt"
    note.write_text("Alice Smith founded Acme Corp in Berlin.")
    # options before the subcommand
    assert cli.main([*args_for(fake_llm, tmp_path), "index", str(note)]) == 0
    assert "acme.txt: processed" in capsys.readouterr().out
    # the same options after it find the same store; the environment's is not used
    assert cli.main(["status", *args_for(fake_llm, tmp_path)]) == 0
    assert "acme.txt: processed" in capsys.readouterr().out
    assert (tmp_path / "rag_storage").is_dir() and not (tmp_path / "from_env").exists()


def test_each_subcommand_lists_the_options_that_apply_to_it(capsys: pytest.CaptureFixture[str]) -> None:
    def help_of(*argv: str) -> str:
        with pytest.raises(SystemExit):
            cli.main([*argv, "--help"])
        return capsys.readouterr().out

    serve = help_of("serve")
    for flag in LIGHTRAG_OPTIONS:
        assert flag in serve, flag
    index, status, query = help_of("index"), help_of("status"), help_of("query")
    assert "--max-async" in index and "--summary-max-tokens" in index and "--port" not in index
    assert "--working-dir" in status and "--llm-binding" not in status and "--key" not in status
    assert "--rerank-binding" in query and "--input-dir" not in query
    assert "(PORT; default 9621)" in serve and "(LIGHTRAG_API_KEY)" in serve


def test_an_option_that_does_not_apply_says_so_in_one_line(run, capsys) -> None:  # noqa: ANN001
    code = cli.main(["--port", "9000", "--ollama-llm-num_ctx", "4096", "status",
                     "--working-dir", "rag_storage"])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert "lambdarag: --port does not apply to status; ignored" in err
    code, _out, err = run("status", "--ollama-llm-num_ctx", "4096")
    assert code == 0 and err.splitlines() == [
        "lambdarag: --ollama-llm-num_ctx does not apply to status; ignored"]
    code, _out, err = run("index", "--ollama-llm-num_ctx", "4096", "missing.txt")
    assert ("lambdarag: --ollama-llm-num_ctx: for LLM_BINDING=ollama, and LLM_BINDING is "
            "openai; ignored") in err.splitlines()


def test_a_binding_option_of_the_wrong_type_stops_with_its_name(capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as stop:
        cli.main(["serve", "--ollama-llm-num_ctx", "big"])
    assert stop.value.code == 2
    assert "--ollama-llm-num_ctx: takes an integer" in capsys.readouterr().err


def test_binding_options_reach_the_provider_and_beat_their_variables(
    run, fake_llm: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_LLM_TEMPERATURE", "0.9")
    monkeypatch.setenv("OPENAI_LLM_MAX_COMPLETION_TOKENS", "77")
    code, _out, _err = run("query", "--openai-llm-temperature", "0.2",
                           "--openai-llm-stop", '["END"]', "--mode", "bypass", "Say hi")
    assert code == 0
    [body] = [b for path, b in fake_llm.requests if path.endswith("/chat/completions")]
    assert (body["temperature"], body["stop"], body["max_completion_tokens"]) == (0.2, ["END"], 77)


def test_a_file_that_failed_is_indexed_again_and_the_exit_status_says_how_it_ended(
    run, fake_llm: FakeLLMServer, tmp_path: Path,
) -> None:
    source = tmp_path / "orion.md"
    source.write_text("# Orion\nBob Jones runs Orion Labs in Delft.")
    # GIVEN the provider refusing every call: the file ends FAILED, the exit status is 1
    fake_llm.fail_next(200, status=400)
    code, out, _err = run("index", str(source))
    fake_llm.reset()
    assert code == 1 and out.startswith("orion.md: failed (doc-")
    code, out, _err = run("status", "orion.md")
    assert code == 1 and "orion.md: failed" in out and out.rstrip().endswith("1 failed")
    # WHEN it is indexed again with the provider up, THEN it is retried and processed
    code, out, _err = run("index", str(source))
    assert (code, out.split(" (")[0]) == (0, "orion.md: processed")
    code, out, _err = run("status")
    assert code == 0 and out.splitlines()[-1] == "1 processed"
    # AND indexing a processed file again changes nothing and is no failure
    code, out, _err = run("index", str(source))
    assert code == 0 and out.startswith("orion.md: already stored (Document storage already contains")


def test_retry_reprocesses_failed_documents(run, fake_llm: FakeLLMServer, tmp_path: Path) -> None:
    for name, text in {"a.md": "Ada Lovelace wrote notes.", "b.md": "Cy Ode builds looms."}.items():
        (tmp_path / name).write_text(text)
    fake_llm.fail_next(200, status=400)
    assert run("index", str(tmp_path / "a.md"), str(tmp_path / "b.md"))[0] == 1
    fake_llm.reset()
    # a named retry runs that document only
    code, out, _err = run("retry", "a.md")
    assert code == 0 and out.splitlines() == [out.splitlines()[0]]
    assert out.startswith("a.md: processed")
    code, out, _err = run("status", "b.md")
    assert code == 1 and "b.md: failed" in out
    # without names, every failed document
    code, out, _err = run("retry")
    assert code == 0 and out.startswith("b.md: processed")
    assert run("retry")[1] == "no failed documents\n"
    code, _out, err = run("retry", "nothere.md")
    assert code == 1 and "nothere.md: no such document" in err


def test_delete_removes_the_document_and_its_stored_file(run, tmp_path: Path) -> None:
    source = tmp_path / "acme.txt"
    source.write_text("Alice Smith founded Acme Corp in Berlin.")
    assert run("index", str(source))[0] == 0
    code, out, _err = run("delete", "acme.txt")
    assert code == 0 and out.startswith("acme.txt: deleted (doc-")
    assert not (tmp_path / "inputs" / "acme.txt").exists() and source.exists()
    assert run("status")[1] == "no documents\n"
    # so the file can be indexed afresh
    assert run("index", str(source))[0] == 0
    code, out, _err = run("delete", "--keep-file", "acme.txt", "ghost.txt")
    assert code == 1 and (tmp_path / "inputs" / "acme.txt").exists()


def test_index_refuses_empty_and_binary_files(run, tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\x00\x00")
    code, _out, err = run("index", str(tmp_path / "empty.md"), str(tmp_path / "photo.txt"))
    assert code == 1
    assert "empty.md is empty: there is no text to index" in err
    assert "photo.txt looks like a binary file, not text" in err
    assert run("status")[1] == "no documents\n"


def test_query_validates_as_the_api_does(run) -> None:  # noqa: ANN001
    code, out, err = run("query", "ab")
    assert (code, out) == (2, "")
    assert err == f"lambdarag: query: {TOO_SHORT}\n"
    with pytest.raises(ValueError, match="too short"):
        QueryRequest(query="ab")
    code, out, _err = run("query", "--mode", "bypass", "ab")
    assert (code, out) == (0, "Echo: ab\n")


def _cli_process(tmp_path: Path, fake: FakeLLMServer, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambdarag.cli", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **provider_env(fake), "PYTHONPATH": str(ROOT)})


def test_the_command_is_quiet_unless_verbose(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    (tmp_path / "acme.txt").write_text("Alice Smith founded Acme Corp in Berlin.")
    quiet = _cli_process(tmp_path, fake_llm, "index", "acme.txt")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout.startswith("acme.txt: processed")
    verbose = _cli_process(tmp_path, fake_llm, "query", "--verbose", "Who founded Acme Corp?")
    assert verbose.returncode == 0
    assert "INFO httpx: HTTP Request: POST" in verbose.stderr
