"""Open WebUI's requests for one chat, replayed over HTTP against a live server.

Open WebUI can reach this server through either of its back ends: an Ollama connection
(``OLLAMA_BASE_URL=http://host:9621``) or an OpenAI connection (base URL
``http://host:9621/v1``). Both are replayed. The browser only talks to Open WebUI; these
are the requests Open WebUI's backend then sends to us, read from its source
(github.com/open-webui/open-webui, ``backend/open_webui/`` unless said otherwise):

1. **Models.** Ollama: ``GET /api/version`` to check the connection
   (``routers/ollama.py`` ``verify_connection``), ``GET /api/tags`` for the model list
   (``routers/ollama.py`` ``get_all_models``). OpenAI: ``GET {base}/models``, that is
   ``/v1/models`` (``routers/openai.py`` ``get_all_models_responses`` sends
   ``f"{url}/models"``).
2. **The question**, always streamed. Ollama: ``POST /api/chat`` with ``model``,
   ``messages``, ``stream: true`` and ``options`` (the OpenAI-style payload converted by
   ``utils/payload.py`` ``convert_payload_openai_to_ollama``); NDJSON back. OpenAI:
   ``POST {base}/chat/completions`` with ``stream: true`` and, when streaming,
   ``stream_options: {"include_usage": true}`` (``routers/openai.py``
   ``generate_chat_completion``); server-sent events back.
3. **Background tasks**, once the answer is done (``utils/middleware.py``
   ``background_tasks_handler``): follow-ups, then the title (first exchange of a saved
   chat), then tags. Each is one more request to the same model and endpoint, with
   ``stream: false`` and a single user message (``routers/tasks.py``
   ``generate_follow_ups``, ``generate_title``, ``generate_chat_tags``; the title also
   sends ``max_tokens`` to Ollama models, ``max_completion_tokens`` to others). The message
   is a template (``config.py`` ``DEFAULT_FOLLOW_UP_GENERATION_PROMPT_TEMPLATE``,
   ``DEFAULT_TITLE_GENERATION_PROMPT_TEMPLATE``, ``DEFAULT_TAGS_GENERATION_PROMPT_TEMPLATE``):
   ``### Task:``, guidelines, ``### Output:`` naming the JSON wanted
   (``{ "follow_ups": [...] }``, ``{ "title": ... }``, ``{ "tags": [...] }``), then
   ``### Chat History:`` and ``<chat_history>\\n{{MESSAGES:END:n}}\\n</chat_history>``
   (n = 2 for the title, 6 otherwise). ``utils/task.py`` ``replace_messages_variable`` and
   ``utils/misc.py`` ``get_messages_content`` render each message as ``ROLE: content``
   (``USER: ...``, ``ASSISTANT: ...``). The reply's text (``choices[0].message.content``;
   Ollama replies are converted to that shape) is cut from its first ``{`` to its last
   ``}`` and parsed as JSON; ``title``, ``tags`` or ``follow_ups`` is read from it.
4. **Continue response** (``src/lib/components/chat/Chat.svelte`` ``continueResponse``
   calls ``sendMessageSocket`` with ``createMessagesList(history, responseMessage.id)`` and
   ``{continueResponse: true}``): the streamed chat request of step 2 again, its message
   list ending with the assistant's unfinished answer. LightRAG answers that with 400 "Last
   message must be from user role", turned into a 500 (HKUDS/LightRAG issue 3645,
   https://github.com/HKUDS/LightRAG/issues/3645).

The task prompts sent here are look-alikes written for this test
(``tests/fixtures/openwebui/task_prompts.json``), with the structure that matters for
routing and parsing. The fake LLM answers them with the JSON they ask for
(``tests.fakes.brain.chat_task``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from lambdarag.api.app import create_app
from lambdarag.llm import prompts
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings, serve
from tests.functional.corpus import CORPUS
from tests.functional.test_openai_api import index

TASK_PROMPTS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "openwebui" / "task_prompts.json").read_text()
)
MODEL = "lightrag:latest"
QUESTION = "Who founded Acme Corp in Berlin?"
_MESSAGES = re.compile(r"\{\{MESSAGES:END:(\d+)\}\}")


def render(template: str, messages: list[dict[str, str]]) -> str:
    """Fill ``{{MESSAGES:END:n}}`` with the last n messages, one ``ROLE: content`` line each."""

    def lines(match: re.Match[str]) -> str:
        last = messages[-int(match.group(1)):]
        return "\n".join(f"{m['role'].upper()}: {m['content']}" for m in last)

    return _MESSAGES.sub(lines, template)


def parse_task_reply(content: str) -> dict[str, Any]:
    """What Open WebUI does with a task reply: the text from the first { to the last }."""
    return json.loads(content[content.find("{"): content.rfind("}") + 1])  # type: ignore[no-any-return]


class Backend(Protocol):
    """One of Open WebUI's connection kinds, as the requests it sends."""

    def models(self) -> list[str]: ...

    def chat(self, messages: list[dict[str, str]]) -> str: ...

    def task(self, prompt: str, kind: str) -> str: ...


class OllamaBackend:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def models(self) -> list[str]:
        assert self.http.get("/api/version").json()["version"]
        response = self.http.get("/api/tags")
        assert response.status_code == 200, response.text
        return [m["name"] for m in response.json()["models"]]

    def chat(self, messages: list[dict[str, str]]) -> str:
        payload = {"model": MODEL, "messages": messages, "stream": True, "options": {}}
        with self.http.stream("POST", "/api/chat", json=payload) as response:
            assert response.status_code == 200, response.read()
            lines = [json.loads(line) for line in response.iter_lines() if line]
        assert lines[-1]["done"] is True and lines[-1]["done_reason"] == "stop"
        assert all("error" not in line for line in lines)
        return "".join(line["message"]["content"] for line in lines)

    def task(self, prompt: str, kind: str) -> str:
        payload: dict[str, Any] = {"model": MODEL, "stream": False,
                                   "messages": [{"role": "user", "content": prompt}]}
        if kind == "title":
            payload["options"] = {"num_predict": 1000}
        response = self.http.post("/api/chat", json=payload)
        assert response.status_code == 200, response.text
        return response.json()["message"]["content"]  # type: ignore[no-any-return]


class OpenAIBackend:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.references: list[dict[str, Any]] = []

    def models(self) -> list[str]:
        response = self.http.get("/v1/models")
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["data"]]

    def chat(self, messages: list[dict[str, str]]) -> str:
        payload = {"model": MODEL, "messages": messages, "stream": True,
                   "stream_options": {"include_usage": True}}
        with self.http.stream("POST", "/v1/chat/completions", json=payload) as response:
            assert response.status_code == 200, response.read()
            events = [line.removeprefix("data: ") for line in response.iter_lines() if line]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(event) for event in events[:-1]]
        assert all("error" not in chunk for chunk in chunks)
        [stop] = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
        self.references = stop["references"]
        assert chunks[-1]["usage"]["completion_tokens"] > 0
        return "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c["choices"])

    def task(self, prompt: str, kind: str) -> str:
        payload: dict[str, Any] = {"model": MODEL, "stream": False,
                                   "messages": [{"role": "user", "content": prompt}]}
        if kind == "title":
            payload["max_completion_tokens"] = 1000
        response = self.http.post("/v1/chat/completions", json=payload)
        assert response.status_code == 200, response.text
        return response.json()["choices"][0]["message"]["content"]  # type: ignore[no-any-return]


BACKENDS = {"ollama": OllamaBackend, "openai": OpenAIBackend}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer) -> Iterator[str]:
    app = create_app(fake_settings(tmp_path_factory.mktemp("openwebui"), fake_llm_session))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for name, text in CORPUS.items():
            index(http, text, name)
        yield url


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, server: str) -> Iterator[Backend]:
    with httpx.Client(base_url=server, timeout=60) as http:
        yield BACKENDS[request.param](http)


def llm_chats(fake: FakeLLMServer) -> list[dict[str, Any]]:
    return [body for path, body in fake.requests if "chat" in path]


def rag_prompts(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls that were part of a knowledge base answer (keywords or the context prompt)."""
    return [c for c in calls if "---Context---" in json.dumps(c) or "high_level_keywords"
            in json.dumps(c)]


def test_open_webui_chat_session(backend: Backend, fake_llm: FakeLLMServer) -> None:
    # 1. Open WebUI lists the models: the knowledge base is one
    assert MODEL in backend.models()

    # 2. the user asks; the answer comes from the knowledge base, with its references
    answer = backend.chat([{"role": "user", "content": QUESTION}])
    assert answer.startswith("Answer from context.") and "Acme Corp" in answer
    assert "### References" in answer and "acme.txt" in answer
    assert rag_prompts(llm_chats(fake_llm))
    if isinstance(backend, OpenAIBackend):
        assert "acme.txt" in {ref["file_path"] for ref in backend.references}
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}]

    # 3. follow-ups, title and tags: each answered by the LLM alone, as JSON Open WebUI reads
    expected = {
        "follow_ups": ["What else is known about Acme Corp, Berlin?",
                       "Which documents mention Acme Corp, Berlin?"],
        "title": "Who founded Acme Corp in",
        "tags": ["Acme Corp", "Berlin"],
    }
    for kind in ("follow_ups", "title", "tags"):
        fake_llm.reset()
        prompt = render(TASK_PROMPTS[kind], history)
        assert "<chat_history>\nUSER: " in prompt and "\nASSISTANT: Answer from context." in prompt
        reply = backend.task(prompt, kind)
        assert parse_task_reply(reply)[kind] == expected[kind], reply
        [call] = llm_chats(fake_llm)
        assert not rag_prompts([call]), f"the {kind} prompt went through retrieval"
        assert call["messages"][-1] == {"role": "user", "content": prompt}

    # 4. Continue response: the last message is the assistant's unfinished answer
    fake_llm.reset()
    partial = answer[: len(answer) // 2]
    rest = backend.chat([{"role": "user", "content": QUESTION},
                         {"role": "assistant", "content": partial}])
    assert rest
    [call] = [c for c in llm_chats(fake_llm) if "---Context---" in json.dumps(c)]
    assert call["messages"][-2:] == [{"role": "assistant", "content": partial},
                                     {"role": "user", "content": prompts.CHAT_CONTINUE}]


def test_task_prompts_skip_retrieval_when_streamed_too(
    backend: Backend, fake_llm: FakeLLMServer
) -> None:
    """Open WebUI sends tasks unstreamed; a client that streams them still gets the LLM."""
    prompt = render(TASK_PROMPTS["title"], [{"role": "user", "content": "Who is Bob Jones?"},
                                            {"role": "assistant", "content": "An engineer."}])
    reply = backend.chat([{"role": "user", "content": prompt}])
    assert parse_task_reply(reply) == {"title": "Who is Bob Jones?"}
    assert not rag_prompts(llm_chats(fake_llm))
