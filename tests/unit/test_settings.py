"""Settings: LightRAG names and defaults, precedence, one-line errors, documented in env.example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lambdarag.config import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("MAX_ASYNC_LLM", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_lightrags() -> None:
    s = load_settings()
    assert (s.port, s.top_k, s.chunk_top_k, s.chunk_size, s.chunk_overlap_size) == (9621, 40, 20, 1200, 100)
    assert (s.max_async, s.max_parallel_insert, s.force_llm_summary_on_merge) == (4, 3, 8)
    assert (s.cosine_threshold, s.llm_timeout) == (0.2, 240)
    # Deliberately not LightRAG's 10: concurrent callers share requests (llm/queue.py)
    assert s.embedding_batch_num == 64
    assert s.llm_config().host == "http://localhost:11434"
    assert s.embedding_config().dim == 1024


def test_cli_beats_environment_beats_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOP_K=7\nCHUNK_TOP_K=8\nPORT=1111\n")
    monkeypatch.setenv("CHUNK_TOP_K", "9")
    monkeypatch.setenv("PORT", "2222")
    s = load_settings(port=3333)
    assert (s.top_k, s.chunk_top_k, s.port) == (7, 9, 3333)


def test_provider_options_pass_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_BINDING", "ollama")
    monkeypatch.setenv("OLLAMA_LLM_NUM_CTX", "8192")
    monkeypatch.setenv("OLLAMA_LLM_TEMPERATURE", "0.5")
    assert load_settings().llm_config().options == {"num_ctx": 8192, "temperature": 0.5}


def test_max_async_llm_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_ASYNC_LLM", "9")
    assert load_settings().max_async == 9


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LLM_TIMEOUT", "soon", "LLM_TIMEOUT: Input should be a valid number"),
        ("LLM_BINDING", "gpt", "LLM_BINDING: Input should be 'openai', 'azure_openai'"),
        ("TOP_K", "0", "TOP_K: Input should be greater than or equal to 1"),
        ("RERANK_MAX_TOKENS_PER_DOC", "0", "RERANK_MAX_TOKENS_PER_DOC: Input should be greater than or equal to 1"),
        ("LIGHTRAG_GRAPH_STORAGE", "Neo4JStorage", "LIGHTRAG_GRAPH_STORAGE: unknown storage 'Neo4JStorage'"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_cli_stops_with_one_line_on_a_bad_value(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "lambdarag.cli", "serve"], cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "PORT": "http"}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "lambdarag: invalid setting: PORT: Input should be a valid integer, unable to parse string as an integer (got 'http')"]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", (ROOT / "env.example").read_text(), re.M))
    # CLI_BINDING_OPTIONS carries the command line's --ollama-llm-* options; their
    # variables are the OLLAMA_LLM_* ones, documented with the bindings.
    names = {name.upper() for name in Settings.model_fields} - {"CLI_BINDING_OPTIONS"}
    assert names - documented == set()
