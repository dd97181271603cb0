"""The Ollama emulation (``/api/*``), driven by the official ``ollama`` client.

One live uvicorn server per module: the corpus is indexed in the default workspace and one
finance document in the ``finance`` workspace, which the API offers as ``lightrag:finance``.
Malformed requests go through raw httpx. The LLM is the fake one (tests/fakes/brain.py):
a RAG answer starts "Answer from context. Entities: ...", anything else is "Echo: <prompt>".
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import ollama
import pytest

from lambdarag.api.app import create_app
from lambdarag.chat import conversation as chat_module
from lambdarag.llm import prompts
from lambdarag.llm.tokenizer import count_tokens
from lambdarag.query.param import TOO_SHORT
from tests.fakes import brain
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM, fake_settings, insert, serve, wait_track
from tests.functional.corpus import CORPUS

CREATED_AT = "2024-01-15T00:00:00Z"
FINANCE = "Zeta Bank lent money to Omega Labs. Omega Labs builds quantum chips in Tokyo City."
TITLE_PROMPT = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"
    "### Chat History:\n<chat_history>\nUSER: Who founded Acme Corp?\n"
    "ASSISTANT: Alice Smith founded Acme Corp.\n</chat_history>"
)
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


@dataclass
class Live:
    url: str
    http: httpx.Client
    client: ollama.Client
    fake: FakeLLMServer

    def chat(self, content: str, **kwargs: Any) -> Any:
        messages = [{"role": "user", "content": content}]
        return self.client.chat(model="lightrag:latest", messages=messages, **kwargs)

    def llm_requests(self) -> list[dict[str, Any]]:
        """The chat requests the fake LLM received (embedding requests left out)."""
        return [body for path, body in self.fake.requests if path.endswith("/chat/completions")]

    def answer_requests(self) -> list[dict[str, Any]]:
        """The RAG answer requests: their system prompt holds the retrieved context."""
        return [b for b in self.llm_requests() if "---Context---" in b["messages"][0]["content"]]

    def keyword_requests(self) -> list[dict[str, Any]]:
        return [b for b in self.llm_requests() if "high_level_keywords" in json.dumps(b)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer) -> Iterator[Live]:
    settings = fake_settings(tmp_path_factory.mktemp("ollama"), fake_llm_session, llm_max_retries=0)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=60) as http:
        for name, text in CORPUS.items():
            assert [d["status"] for d in wait_track(http, insert(http, text, name))] == ["processed"]
        finance = httpx.Client(base_url=url, timeout=60, headers={"LIGHTRAG-WORKSPACE": "finance"})
        with finance:
            assert [d["status"] for d in wait_track(finance, insert(finance, FINANCE, "bank.txt"))] \
                == ["processed"]
        yield Live(url, http, ollama.Client(host=url, timeout=60), fake_llm_session)


@pytest.fixture
def fresh(live: Live) -> Live:
    """The live server with the fake LLM's recorded requests and faults cleared."""
    live.fake.reset()
    return live


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """(query, QueryParam) of every knowledge-base query the chat core runs."""
    seen: list[tuple[str, Any]] = []
    real = chat_module.aquery

    async def recording(ws: Any, query: str, param: Any, **kwargs: Any) -> Any:
        seen.append((query, param))
        return await real(ws, query, param, **kwargs)

    monkeypatch.setattr(chat_module, "aquery", recording)
    return seen


def assert_counters(final: Any, prompt: str, text: str) -> None:
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["created_at"] == CREATED_AT
    assert final["prompt_eval_count"] == count_tokens(prompt)
    assert final["eval_count"] == count_tokens(text)
    assert final["load_duration"] == 0
    assert final["total_duration"] == final["prompt_eval_duration"] + final["eval_duration"]
    assert final["total_duration"] > 0 and final["eval_duration"] >= 0


# ------------------------------------------------------------------ models and metadata


def test_version_tags_and_ps(live: Live) -> None:
    assert live.http.get("/api/version").json() == {"version": "0.9.3"}
    listed = live.client.list()
    assert [m.model for m in listed.models] == ["lightrag:latest", "lightrag:finance"]
    raw = live.http.get("/api/tags").json()["models"][0]
    assert raw == {
        "name": "lightrag:latest", "model": "lightrag:latest", "modified_at": CREATED_AT,
        "size": 7365960935, "digest": "sha256:lightrag",
        "details": {"parent_model": "", "format": "gguf", "family": "lightrag",
                    "families": ["lightrag"], "parameter_size": "13B", "quantization_level": "Q4_0"},
    }
    running = live.client.ps().models
    assert [m.model for m in running] == ["lightrag:latest"]
    assert running[0].details is not None and running[0].details.family == "llama"


def test_the_workspace_header_decides_what_latest_means(live: Live) -> None:
    names = [m["name"] for m in live.http.get(
        "/api/tags", headers={"LIGHTRAG-WORKSPACE": "finance"}).json()["models"]]
    assert names == ["lightrag:latest"]  # finance is the default; the root has no name
    shown = live.http.post("/api/show", json={"model": "lightrag:latest"},
                           headers={"LIGHTRAG-WORKSPACE": "finance"}).json()
    assert shown["model_info"]["lightrag.workspace"] == "finance"


def test_chatting_with_a_knowledge_base_model_answers_from_its_documents(live: Live) -> None:
    question = [{"role": "user", "content": "What does Omega Labs build, and who is Acme Corp?"}]
    finance = live.client.chat(model="lightrag:finance", messages=question, stream=False)
    assert finance.model == "lightrag:finance"
    assert "Omega Labs" in finance.message.content
    assert "Acme" not in finance.message.content and "bank.txt" in finance.message.content
    default = live.client.chat(model="lightrag:latest", messages=question, stream=False)
    assert "Acme Corp" in default.message.content and "Omega" not in default.message.content
    # Names without the "lightrag:" prefix are ignored, as in LightRAG: the default workspace.
    other = live.client.chat(model="llama3:8b", messages=question, stream=False)
    assert other.model == "lightrag:latest" and "Acme Corp" in other.message.content


def test_unknown_knowledge_base_is_404(live: Live) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        live.client.chat(model="lightrag:nope", messages=[{"role": "user", "content": "Hello there"}])
    assert caught.value.status_code == 404
    assert caught.value.error == "model 'lightrag:nope' not found; GET /api/tags lists the knowledge bases"
    response = live.http.post("/api/generate", json={"model": "lightrag:nope", "prompt": "hi"})
    assert response.status_code == 404 and response.json()["detail"] == response.json()["error"]


def test_show_describes_known_models_only(live: Live) -> None:
    shown = live.client.show("lightrag:finance")
    assert shown.details is not None and shown.details.family == "lightrag"
    assert shown.modelinfo is not None and shown.modelinfo["lightrag.workspace"] == "finance"
    assert shown.capabilities == ["completion"]
    assert live.client.show("lightrag").modelinfo["lightrag.workspace"] == ""  # :latest implied
    with pytest.raises(ollama.ResponseError) as caught:
        live.client.show("llama3")
    assert caught.value.status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/pull", {"model": "llama3"}),
    ("POST", "/api/push", {"model": "lightrag:latest"}),
    ("POST", "/api/create", {"model": "mine", "from": "lightrag:latest"}),
    ("POST", "/api/copy", {"source": "lightrag:latest", "destination": "copy"}),
    ("DELETE", "/api/delete", {"model": "lightrag:latest"}),
])
def test_model_management_is_405(live: Live, method: str, path: str, body: dict[str, Any]) -> None:
    response = live.http.request(method, path, json=body)
    assert response.status_code == 405
    payload = response.json()
    assert payload["error"] == payload["detail"] and "not supported" in payload["error"]
    assert "/documents/upload" in payload["error"]


def test_model_management_through_the_client(live: Live) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        live.client.pull("llama3")
    assert caught.value.status_code == 405
    with pytest.raises(ollama.ResponseError):
        live.client.delete("lightrag:latest")
    assert [m.model for m in live.client.list().models][0] == "lightrag:latest"


# ----------------------------------------------------------------------------- chat


def test_chat_without_streaming(fresh: Live) -> None:
    query = "Who founded Acme Corp in Berlin?"
    response = fresh.chat(query, stream=False)
    text = response.message.content
    assert response.message.role == "assistant"
    assert text.startswith("Answer from context. Entities:") and "Alice Smith" in text
    assert "### References" in text and "acme.txt" in text  # references stay in the text
    assert_counters(response, query, text)
    raw = fresh.http.post("/api/chat", json={"model": "x", "stream": False,
                                             "messages": [{"role": "user", "content": query}]}).json()
    assert raw["message"]["images"] is None and "context" not in raw


def test_chat_streams_ndjson_by_default(fresh: Live) -> None:
    query = "Which satellite did Alice Smith present at the Orbital Summit?"
    parts = list(fresh.chat(query, stream=True))
    assert len(parts) > 3  # the answer comes in several deltas
    assert all(p.done is False and p.created_at == CREATED_AT for p in parts[:-1])
    text = "".join(p.message.content for p in parts)
    assert text.startswith("Answer from context. Entities:") and "Helios Satellite" in text
    assert parts[-1].message.content == ""
    assert_counters(parts[-1], query, text)
    raw = fresh.http.post("/api/chat", json={"messages": [{"role": "user", "content": query}]})
    assert raw.headers["content-type"].startswith("application/x-ndjson")


PREFIXES = [
    ("/local ", "local", False), ("/global ", "global", False), ("/naive ", "naive", False),
    ("/hybrid ", "hybrid", False), ("/mix ", "mix", False), ("", "mix", False),
    ("/context", "mix", True), ("/context ", "mix", True), ("/localcontext ", "local", True),
    ("/globalcontext ", "global", True), ("/hybridcontext ", "hybrid", True),
    ("/naivecontext ", "naive", True), ("/mixcontext ", "mix", True),
]


@pytest.mark.parametrize(("case", "prefix", "mode", "context_only"),
                         [(i, *row) for i, row in enumerate(PREFIXES)])
def test_every_prefix_picks_its_mode(
    fresh: Live, spy: list[tuple[str, Any]], case: int, prefix: str, mode: str, context_only: bool
) -> None:
    query = f"Where did Bob Jones study physics (case {case})?"  # unique: no cached answer
    text = fresh.chat(f"{prefix}{query}", stream=False).message.content
    assert [(q, p.mode, p.only_need_context) for q, p in spy] == [(query, mode, context_only)]
    assert spy[0][1].top_k == 40  # TOP_K from the settings
    if context_only:
        assert "Reference Document List" in text and not fresh.answer_requests()
        assert ("Knowledge Graph Data" in text) is (mode != "naive")
    else:
        assert text.startswith("Answer from context.")
        system = fresh.answer_requests()[0]["messages"][0]["content"]
        assert (system.startswith(prompts.NAIVE_RAG_RESPONSE[:40])) is (mode == "naive")
    assert bool(fresh.keyword_requests()) is (mode != "naive")


def test_local_without_a_space_is_literal_text(fresh: Live, spy: list[tuple[str, Any]]) -> None:
    fresh.chat("/localWho founded Acme Corp?", stream=False)
    assert [(q, p.mode) for q, p in spy] == [("/localWho founded Acme Corp?", "mix")]


def test_bracket_form_adds_instructions(fresh: Live, spy: list[tuple[str, Any]]) -> None:
    text = fresh.chat("/local[Answer as a table.] Who joined Acme Corp?", stream=False).message.content
    assert [(q, p.mode, p.user_prompt) for q, p in spy] == [
        ("Who joined Acme Corp?", "local", "Answer as a table.")]
    assert "Instructions: Answer as a table." in text
    fresh.chat("/[Be brief.] Who mentored Dana Green?", stream=False)
    assert (spy[1][0], spy[1][1].mode, spy[1][1].user_prompt) == (
        "Who mentored Dana Green?", "mix", "Be brief.")


def test_history_reaches_the_llm(fresh: Live) -> None:
    messages = [
        {"role": "system", "content": "Ignored in RAG mode."},
        {"role": "user", "content": "Who is Bob Jones?"},
        {"role": "assistant", "content": "The chief engineer of Acme Corp."},
        {"role": "user", "content": "Where did Bob Jones study, and with whom?"},
    ]
    response = fresh.client.chat(model="lightrag:latest", messages=messages, stream=False)
    assert response.message.content.startswith("Answer from context.")
    sent = fresh.answer_requests()[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in sent[1:]] == [m["content"] for m in messages[1:]]
    assert "Ignored in RAG mode." not in sent[0]["content"]
    assert response.prompt_eval_count == count_tokens(messages[-1]["content"])


def test_bypass_goes_to_the_llm_with_system_and_history(fresh: Live) -> None:
    messages = [
        {"role": "user", "content": "Remember the word kiwi."},
        {"role": "assistant", "content": "Noted."},
        {"role": "developer", "content": "Answer in one word."},
        {"role": "user", "content": "/bypass What was the word?"},
    ]
    response = fresh.http.post("/api/chat", json={"model": "lightrag:latest", "messages": messages,
                                                  "system": "Be terse.", "stream": False}).json()
    assert response["message"]["content"] == "[system] Echo: What was the word?"
    assert not fresh.keyword_requests() and not fresh.answer_requests()
    sent = fresh.llm_requests()[0]["messages"]
    assert sent == [
        {"role": "system", "content": "Be terse.\n\nAnswer in one word."},
        {"role": "user", "content": "Remember the word kiwi."},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "What was the word?"},
    ]
    streamed = "".join(p.message.content for p in fresh.chat("/bypass Say hello", stream=True))
    assert streamed == "Echo: Say hello"
    # Bracket instructions are kept for bypass too, as the system prompt.
    assert fresh.chat("/bypass[Reply in French.] Hello", stream=False).message.content \
        == "[system] Echo: Hello"
    assert fresh.llm_requests()[-1]["messages"][0] == {"role": "system", "content": "Reply in French."}


def test_continue_extends_the_last_assistant_message(fresh: Live) -> None:
    messages = [
        {"role": "user", "content": "/local Who reported on the Helios Satellite?"},
        {"role": "assistant", "content": "Answer from context. Entities: Carol"},
    ]
    response = fresh.client.chat(model="lightrag:latest", messages=messages, stream=False)
    assert response.message.content.startswith("Answer from context.")  # not a 400
    question = "Who reported on the Helios Satellite?"
    assert question in json.dumps(fresh.keyword_requests()[0])  # retrieval for the question
    sent = fresh.answer_requests()[0]["messages"]
    assert sent[1:] == [
        {"role": "user", "content": question},
        {"role": "assistant", "content": "Answer from context. Entities: Carol"},
        {"role": "user", "content": prompts.CHAT_CONTINUE},
    ]
    streamed = fresh.client.chat(model="lightrag:latest", messages=messages, stream=True)
    assert "".join(p.message.content for p in streamed).startswith("Answer from context.")


def test_continue_after_bypass_and_context(fresh: Live) -> None:
    bypass = [{"role": "user", "content": "/bypass Count to five."},
              {"role": "assistant", "content": "One, two,"}]
    text = fresh.client.chat(model="lightrag:latest", messages=bypass, stream=False).message.content
    assert text == "Echo: " + prompts.CHAT_CONTINUE
    assert fresh.llm_requests()[0]["messages"][-2] == {"role": "assistant", "content": "One, two,"}
    context = fresh.chat("/context Tell me about Delft University", stream=False).message.content
    half = context[: len(context) // 2]
    rest = fresh.client.chat(model="lightrag:latest", stream=False, messages=[
        {"role": "user", "content": "/context Tell me about Delft University"},
        {"role": "assistant", "content": half}]).message.content
    assert half + rest == context


def test_an_empty_assistant_message_last_is_answered_normally(fresh: Live) -> None:
    messages = [{"role": "user", "content": "/bypass Ping"}, {"role": "assistant", "content": ""}]
    assert fresh.client.chat(model="x", messages=messages, stream=False).message.content == "Echo: Ping"


@pytest.mark.parametrize("stream", [False, True])
def test_open_webui_task_prompts_go_straight_to_the_llm(fresh: Live, stream: bool) -> None:
    response = fresh.chat(TITLE_PROMPT, stream=stream)
    text = "".join(p.message.content for p in response) if stream else response.message.content
    assert text == "Echo: " + TITLE_PROMPT
    assert len(fresh.llm_requests()) == 1
    assert not fresh.keyword_requests() and not fresh.answer_requests()
    assert not any("embeddings" in path for path, _ in fresh.fake.requests)  # no retrieval


def test_images_are_ignored(fresh: Live, spy: list[tuple[str, Any]]) -> None:
    messages = [{"role": "user", "content": "Who founded Acme Corp, per this photo?",
                 "images": [PNG, PNG]}]
    response = fresh.client.chat(model="lightrag:latest", messages=messages, stream=False)
    assert response.message.content.startswith("Answer from context.")
    assert spy[0][0] == "Who founded Acme Corp, per this photo?"
    assert PNG not in json.dumps(fresh.llm_requests())


def test_llm_failure_is_an_error_line_when_streaming(fresh: Live) -> None:
    fresh.fake.fail_next(1, status=400)
    lines = [json.loads(line) for line in fresh.http.post("/api/chat", json={
        "messages": [{"role": "user", "content": "/bypass Hello"}]}).text.splitlines()]
    assert len(lines) == 2
    assert lines[0]["done"] is False and lines[0]["error"].startswith("\n\nError: Provider error: ")
    assert lines[0]["message"]["content"] == lines[0]["error"]
    assert lines[1] == {"model": "lightrag:latest", "created_at": CREATED_AT, "done": True,
                        "message": {"role": "assistant", "content": "", "images": None}}
    fresh.fake.fail_next(1, status=400)
    with pytest.raises(ollama.ResponseError, match="Provider error"):
        list(fresh.client.generate(model="lightrag:latest", prompt="Hello", stream=True))


def test_llm_failure_without_streaming_is_502(fresh: Live) -> None:
    fresh.fake.fail_next(1, status=400)
    with pytest.raises(ollama.ResponseError) as caught:
        fresh.chat("/bypass Hello", stream=False)
    assert caught.value.status_code == 502 and caught.value.error.startswith("Provider error: ")


# ------------------------------------------------------------------------- generate


def test_generate_without_streaming(fresh: Live) -> None:
    response = fresh.client.generate(model="lightrag:latest", prompt="Who founded Acme Corp?",
                                     system="Be brief.")
    assert response.response == "[system] Echo: Who founded Acme Corp?"
    assert response.context == []
    assert_counters(response, "Who founded Acme Corp?", response.response)
    assert not fresh.keyword_requests() and not fresh.answer_requests()  # never the knowledge base
    assert fresh.llm_requests()[0]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_generate_streams_when_asked(fresh: Live) -> None:
    prompt = "Write one long sentence about graphs and the many nodes in them."
    parts = list(fresh.client.generate(model="lightrag:latest", prompt=prompt, stream=True))
    assert len(parts) > 2 and all(p.done is False for p in parts[:-1])
    text = "".join(p.response for p in parts)
    assert text == "Echo: " + prompt
    assert parts[-1].context == [] and parts[-1].response == ""
    assert_counters(parts[-1], prompt, text)


# ----------------------------------------------------------------------- embeddings


def test_embed_and_legacy_embeddings(live: Live) -> None:
    embedded = live.client.embed(model="lightrag:latest", input=["Acme Corp", "Berlin"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == DIM
    assert embedded.embeddings[1] == pytest.approx(brain.embed("Berlin", DIM), abs=1e-6)
    assert embedded.prompt_eval_count == count_tokens("Acme Corp") + count_tokens("Berlin")
    assert embedded.load_duration == 0 and embedded.total_duration > 0
    single = live.client.embed(model="lightrag:latest", input="Acme Corp")
    assert single.embeddings[0] == pytest.approx(embedded.embeddings[0])
    legacy = live.client.embeddings(model="lightrag:latest", prompt="Acme Corp")
    assert list(legacy.embedding) == pytest.approx(embedded.embeddings[0])
    text = "Acme Corp builds weather satellites for NASA in Berlin."
    short = live.client.embed(model="lightrag:latest", input=text, dimensions=512)
    head = brain.embed(text, DIM)[:512]
    assert short.embeddings[0] == pytest.approx([v / math.hypot(*head) for v in head], abs=1e-6)
    assert math.isclose(math.hypot(*short.embeddings[0]), 1.0, rel_tol=1e-6)
    assert live.http.post("/api/embed", json={"input": "x", "dimensions": DIM + 1}).status_code == 400


# ------------------------------------------------------------------ malformed inputs

USER = {"role": "user", "content": "Who founded Acme Corp?"}


@pytest.mark.parametrize(("path", "body", "status", "detail"), [
    ("/api/chat", b"{not json", 400, "Invalid JSON in request body"),
    ("/api/chat", b"", 400, "Invalid JSON in request body"),
    ("/api/chat", b"\xff\xfe\x00garbage", 400, "Invalid JSON in request body"),
    ("/api/chat", b"[" * 100_000, 400, "Invalid JSON in request body"),
    ("/api/generate", b"{'prompt': 1}", 400, "Invalid JSON in request body"),
    ("/api/chat", {"messages": []}, 400, "No messages provided"),
    ("/api/chat", {}, 400, "Invalid request body: messages: Field required"),
    ("/api/chat", [USER], 400, "Invalid request body: "),
    ("/api/chat", {"messages": USER}, 400, "Invalid request body: messages: "),
    ("/api/chat", {"messages": [{"role": "user", "content": 42}]}, 400,
     "Invalid request body: messages.0.content: "),
    ("/api/chat", {"messages": [{"role": 7, "content": "hi"}]}, 400, "Invalid request body: "),
    ("/api/chat", {"messages": [{"content": "hi"}]}, 400,
     "Invalid request body: messages.0.role: Field required"),
    ("/api/chat", {"messages": [USER], "stream": "maybe"}, 400, "Invalid request body: stream: "),
    ("/api/chat", {"messages": [{"role": "wizard", "content": "hi"}]}, 400,
     "Unknown message role 'wizard': use user, assistant, system or developer"),
    ("/api/chat", {"messages": [{"role": "system", "content": "Be nice."}]}, 400,
     "Last message must be from user role"),
    ("/api/chat", {"messages": [{"role": "user", "content": "/local   "}]}, 400,
     "Query must not be empty."),
    ("/api/chat", {"messages": [{"role": "user", "content": "ab"}]}, 400, TOO_SHORT),
    ("/api/chat", {"model": "m" * 300, "messages": [USER]}, 400, "Invalid request body: model: "),
    ("/api/chat", {"messages": [{"role": "user", "content": "x" * 40_000}]}, 413,
     "Request payload exceeds the allowed size (messages[0].content: at most 32768 characters)."),
    ("/api/chat", {"messages": [USER] * 129}, 413,
     "Request payload exceeds the allowed size (messages: at most 128)."),
    ("/api/chat", {"messages": [{"role": "r" * 65, "content": "hi"}]}, 413,
     "Request payload exceeds the allowed size (messages[0].role: at most 64 characters)."),
    ("/api/chat", {"messages": [{**USER, "images": ["a"] * 17}]}, 413,
     "Request payload exceeds the allowed size (messages[0].images: at most 16)."),
    ("/api/chat", {"messages": [USER], "system": "s" * 40_000}, 413,
     "Request payload exceeds the allowed size (system: at most 32768 characters)."),
    ("/api/chat", {"messages": [{"role": "user", "content": "y" * 30_000}] * 5}, 413,
     "Request payload exceeds the allowed size (query + system + history: at most 131072 characters)."),
    ("/api/chat", {"messages": [{"role": "user", "content": "z" * 1_100_000}]}, 413,
     "Request body too large. This endpoint accepts at most 1048576 bytes."),
    ("/api/generate", {"prompt": "   "}, 400, "Query must not be empty."),
    ("/api/generate", {"prompt": "p" * 70_000}, 413,
     "Request payload exceeds the allowed size (prompt: at most 65536 characters)."),
    ("/api/generate", {"prompt": ["a"]}, 400, "Invalid request body: prompt: "),
    ("/api/embed", {"input": [1, 2]}, 400, "Invalid request body: input"),
    ("/api/embeddings", {"prompt": None}, 400, "Invalid request body: prompt: "),
    ("/api/show", {"model": 5}, 400, "Invalid request body: model: "),
])
def test_malformed_requests_are_4xx_never_500(
    live: Live, path: str, body: Any, status: int, detail: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = live.http.post(path, content=content, headers={"Content-Type": "text/plain"})
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["detail"].startswith(detail), payload
    assert payload["error"] == payload["detail"]


def test_any_content_type_is_parsed_as_json(live: Live) -> None:
    body = json.dumps({"prompt": "Hello there", "model": "lightrag:latest"})
    for content_type in ("application/octet-stream", "text/plain", "application/json"):
        response = live.http.post("/api/generate", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200 and response.json()["response"] == "Echo: Hello there"


def test_a_chunked_body_over_the_limit_is_refused_while_reading(live: Live) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"w" * 32_768
        yield b'"}]}'

    response = live.http.post("/api/chat", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large.")
