"""PROMPT_DIR's files: ENTITY_TYPE_PROMPT_FILE and USER_PROMPT_PREFIX_FILE, as LightRAG 1.5.

GIVEN a profile or a prefix file in PROMPT_DIR, THEN what the LLM is sent carries it; a file
that cannot be used stops start-up in one line naming the setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambdarag.api.app import create_app
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, insert, wait_track
from tests.functional.corpus import CORPUS
from tests.settings_refusal import refusal

PROFILE = """\
entity_types_guidance: |
  Classify each entity as Spacecraft, Agency or Person; use Other when none fits.
entity_extraction_examples:
  - |
    entity<|#|>Voyager 1<|#|>Spacecraft<|#|>Voyager 1 is a probe launched in 1977.
    <|COMPLETE|>
"""


def prompts_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "prompts"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def systems(fake: FakeLLMServer, marker: str) -> list[str]:
    return [m["content"] for _, body in fake.requests if isinstance(body, dict)
            for m in body.get("messages", []) if m["role"] == "system" and marker in str(body)]


def test_an_entity_type_profile_replaces_the_default_types(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    root = prompts_dir(tmp_path, {"entity_type/space.yml": PROFILE})
    settings = fake_settings(tmp_path, fake_llm, prompt_dir=root,
                             entity_type_prompt_file="space.yml")
    with TestClient(create_app(settings)) as client:
        [doc] = wait_track(client, insert(client, CORPUS["acme.txt"], "acme.txt"))
    assert doc["status"] == "processed"
    [system, *_] = systems(fake_llm, "---Input Text---")
    assert "Classify each entity as Spacecraft, Agency or Person" in system
    assert "Voyager 1<|#|>Spacecraft" in system
    assert "Creature" not in system  # the default list is gone


def test_a_user_prompt_prefix_file_reaches_the_answer_prompt(
    tmp_path: Path, fake_llm: FakeLLMServer
) -> None:
    root = prompts_dir(tmp_path, {"user_prompt/house.md": "Answer in the house style.\n"})
    settings = fake_settings(tmp_path, fake_llm, prompt_dir=root, user_prompt_prefix="inline",
                             user_prompt_prefix_file="house.md")
    with TestClient(create_app(settings)) as client:
        wait_track(client, insert(client, CORPUS["acme.txt"], "acme.txt"))
        fake_llm.reset()
        answer = client.post("/query", json={"query": "Who founded Acme Corp?", "mode": "naive"})
    assert answer.status_code == 200
    sent = str(fake_llm.requests)
    assert "Answer in the house style." in sent and "inline" not in sent


@pytest.mark.parametrize(("files", "env", "expected"), [
    ({}, {"ENTITY_TYPE_PROMPT_FILE": "missing.yml"}, "ENTITY_TYPE_PROMPT_FILE: "),
    ({}, {"ENTITY_TYPE_PROMPT_FILE": "../secrets.yml"}, "ENTITY_TYPE_PROMPT_FILE: must be a file name only"),
    ({}, {"ENTITY_TYPE_PROMPT_FILE": "space.json"}, "ENTITY_TYPE_PROMPT_FILE: must end with .yml or .yaml"),
    ({"entity_type/bad.yml": "entity_types_guidance: [unclosed"}, {"ENTITY_TYPE_PROMPT_FILE": "bad.yml"},
     "is not valid YAML"),
    ({"entity_type/space.yml": PROFILE},
     {"ENTITY_TYPE_PROMPT_FILE": "space.yml", "ENTITY_EXTRACTION_USE_JSON": "true"},
     "needs entity_extraction_json_examples (a list of texts): extraction runs in the JSON format"),
    ({"entity_type/empty.yml": "entity_extraction_examples: [x]"}, {"ENTITY_TYPE_PROMPT_FILE": "empty.yml"},
     "needs entity_types_guidance"),
    ({}, {"USER_PROMPT_PREFIX_FILE": "house.md"}, "USER_PROMPT_PREFIX_FILE: "),
    ({"user_prompt/house.pdf": "x"}, {"USER_PROMPT_PREFIX_FILE": "house.pdf"},
     "USER_PROMPT_PREFIX_FILE: must end with .md or .txt"),
])
def test_a_prompt_file_that_cannot_be_used_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str],
    env: dict[str, Any], expected: str,
) -> None:
    root = prompts_dir(tmp_path, files)
    message = refusal(monkeypatch, {"PROMPT_DIR": str(root), **env})
    assert message.startswith(next(iter(env)) + ": ") and expected in message


def test_lightrag_14s_entity_types_list_sets_the_types(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for raw in ('["Spacecraft", "Agency"]', "Spacecraft, Agency"):
        settings = fake_settings(tmp_path, fake_llm, entity_types=raw)
        assert settings.entity_type_list == ("Spacecraft", "Agency")
    with TestClient(create_app(fake_settings(tmp_path, fake_llm, entity_types="Spacecraft,Agency"))) as client:
        wait_track(client, insert(client, CORPUS["acme.txt"], "acme.txt"))
    [system, *_] = systems(fake_llm, "---Input Text---")
    assert "one of Spacecraft, Agency; use Other" in system
    assert refusal(monkeypatch, {"ENTITY_TYPES": '["Person"'}).startswith("ENTITY_TYPES: is not a JSON list")
