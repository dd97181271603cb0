"""The gleaning pass is shown its first answer as a recap: records without descriptions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lambdarag.llm.prompts import COMPLETION_DELIMITER, TUPLE_DELIMITER
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import insert, wait_track
from tests.functional.corpus import CORPUS


def test_gleaning_sees_what_was_found_without_the_descriptions(
    client: TestClient, fake_llm: FakeLLMServer
) -> None:
    # WHEN a document is indexed
    docs = wait_track(client, insert(client, CORPUS["acme.txt"], "acme.txt"))
    assert [d["status"] for d in docs] == ["processed"]
    chats = [body["messages"] for _, body in fake_llm.requests if "messages" in body]
    first = next(m for m in chats if "---Input Text---" in m[-1]["content"])
    glean = next(m for m in chats if "---Task: continue extraction---" in m[-1]["content"])
    # THEN the gleaning request repeats the text and lists every record found, by name only
    assert glean[-3]["content"] == first[-1]["content"]
    recap = glean[-2]
    assert recap["role"] == "assistant"
    lines = recap["content"].splitlines()
    assert lines[-1] == COMPLETION_DELIMITER
    fields = [line.split(TUPLE_DELIMITER) for line in lines[:-1]]
    assert {f[0] for f in fields} == {"entity", "relation"}
    assert all(len(f) == 3 for f in fields)
    assert ["entity", "Acme Corp", "organization"] in fields
    assert any(f[0] == "relation" and {"Alice Smith", "Acme Corp"} == {f[1], f[2]}
               for f in fields)
