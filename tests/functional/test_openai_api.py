"""The OpenAI-compatible API, driven by the official ``openai`` client over HTTP.

One live server (uvicorn, the fake LLM) serves the whole module: the corpus in the default
workspace and one document in the ``orchard`` workspace, which is offered as its own model.
Malformed requests go through raw httpx, since the SDK would not send them.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from lambdarag.api.app import create_app
from lambdarag.llm import prompts
from lambdarag.llm.tokenizer import count_tokens
from tests.fakes import brain
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import DIM, fake_settings, serve
from tests.functional.corpus import CORPUS, wait_for

ORCHARD = "Erin Black planted the Quince Orchard near Lake Town. Erin Black sells quince jam."
ERROR_KEYS = {"message", "type", "param", "code"}


def index(http: httpx.Client, text: str, source: str, workspace: str | None = None) -> None:
    """Insert ``text`` and wait until it is processed."""
    headers = {"LIGHTRAG-WORKSPACE": workspace} if workspace else {}
    response = http.post("/documents/text", json={"text": text, "file_source": source},
                         headers=headers)
    assert response.status_code == 200, response.text
    track = response.json()["track_id"]

    def processed() -> bool:
        docs = http.get(f"/documents/track_status/{track}", headers=headers).json()["documents"]
        assert all(d["status"] != "failed" for d in docs), docs
        return bool(docs) and all(d["status"] == "processed" for d in docs)

    wait_for(processed, timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_llm_session: FakeLLMServer) -> Iterator[str]:
    app = create_app(fake_settings(tmp_path_factory.mktemp("openai"), fake_llm_session,
                                   llm_max_retries=0))
    with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        for name, text in CORPUS.items():
            index(http, text, name)
        index(http, ORCHARD, "orchard.txt", workspace="orchard")
        yield url


@pytest.fixture
def client(server: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as raw:
        yield raw


def ask(client: OpenAI, content: str, model: str = "lightrag:latest", **kwargs: Any) -> str:
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs)
    return completion.choices[0].message.content or ""


def chat_calls(fake: FakeLLMServer, marker: str) -> list[dict[str, Any]]:
    """The fake LLM's chat requests whose body contains ``marker``."""
    return [body for path, body in fake.requests if "chat" in path and marker in json.dumps(body)]


def files(references: list[dict[str, Any]]) -> set[str]:
    return {ref["file_path"] for ref in references}


# ------------------------------------------------------------------------------ models


def test_models_lists_every_knowledge_base(client: OpenAI) -> None:
    # WHEN the client lists the models
    models = client.models.list().data
    # THEN the default knowledge base comes first and the orchard workspace is its own model
    assert [m.id for m in models] == ["lightrag:latest", "lightrag:orchard"]
    assert {(m.object, m.owned_by) for m in models} == {("model", "lambdarag")}
    assert all(isinstance(m.created, int) for m in models)
    # AND each can be retrieved, an unknown one is a 404 in OpenAI's shape
    assert client.models.retrieve("lightrag:orchard").id == "lightrag:orchard"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("lightrag:nope")
    assert caught.value.code == "model_not_found"


def test_the_workspace_header_chooses_the_default_model(http: httpx.Client) -> None:
    response = http.get("/v1/models", headers={"LIGHTRAG-WORKSPACE": "orchard"})
    assert [m["id"] for m in response.json()["data"]][0] == "lightrag:latest"
    answer = http.post("/v1/chat/completions", headers={"LIGHTRAG-WORKSPACE": "orchard"},
                       json={"model": "lightrag:latest", "messages": [
                           {"role": "user", "content": "Who planted the Quince Orchard?"}]})
    assert files(answer.json()["references"]) == {"orchard.txt"}


# -------------------------------------------------------------------------------- chat


def test_chat_answers_from_the_knowledge_base_with_references(client: OpenAI) -> None:
    question = "Who founded Acme Corp in Berlin?"
    # WHEN a question is asked without streaming
    completion = client.chat.completions.create(
        model="lightrag:latest", messages=[{"role": "user", "content": question}])
    # THEN the answer comes from the knowledge base and keeps its reference list
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "lightrag:latest"
    [choice] = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    text = choice.message.content or ""
    assert text.startswith("Answer from context.") and "### References" in text
    # AND the references are structured too, readable through the SDK
    references = completion.model_extra["references"]  # type: ignore[index]
    assert references == completion.to_dict()["references"]
    assert "acme.txt" in files(references)
    assert all(ref["file_path"] in text for ref in references)
    # AND usage counts the question and the answer
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_tokens(question)
    assert completion.usage.completion_tokens == count_tokens(text)
    assert completion.usage.total_tokens == count_tokens(question) + count_tokens(text)


def test_a_second_workspace_answers_from_its_own_documents_only(client: OpenAI) -> None:
    completion = client.chat.completions.create(
        model="lightrag:orchard",
        messages=[{"role": "user", "content": "What does Erin Black sell?"}])
    assert files(completion.model_extra["references"]) == {"orchard.txt"}  # type: ignore[index]
    text = completion.choices[0].message.content or ""
    assert "Erin Black" in text and "Acme" not in text
    # AND the default knowledge base does not see the orchard
    other = client.chat.completions.create(
        model="lightrag:latest", messages=[{"role": "user", "content": "What does Erin Black sell?"}])
    assert "orchard.txt" not in files(other.model_extra["references"])  # type: ignore[index]


def test_streamed_chat_sends_role_content_references_usage_and_done(
    client: OpenAI, http: httpx.Client
) -> None:
    question = "Who presented the Helios Satellite?"
    # WHEN the answer is streamed with usage
    chunks = list(client.chat.completions.create(
        model="lightrag:latest", messages=[{"role": "user", "content": question}], stream=True,
        stream_options={"include_usage": True}))
    # THEN the first chunk names the role, the content follows in deltas
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Answer from context.") and "### References" in text
    # AND the stop chunk carries the references, then a usage chunk without choices comes last
    [stop] = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert stop.choices[0].finish_reason == "stop"
    assert "berlin.txt" in files(stop.model_extra["references"])  # type: ignore[index]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == count_tokens(question)
    assert chunks[-1].usage.completion_tokens == count_tokens(text)
    # AND on the wire: server-sent events ending with [DONE]; no usage chunk unless asked
    with http.stream("POST", "/v1/chat/completions", json={
        "model": "lightrag:latest", "stream": True,
        "messages": [{"role": "user", "content": "Who reported on the Helios Satellite?"}],
    }) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(p["choices"] for p in payloads) and "usage" not in payloads[-1]
    assert payloads[-1]["choices"][0]["finish_reason"] == "stop" and payloads[-1]["references"]


def test_stream_and_whole_answers_agree(client: OpenAI) -> None:
    whole = ask(client, "/hybrid Where did Bob Jones study physics?")
    streamed = "".join(
        c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="lightrag:latest", stream=True,
            messages=[{"role": "user", "content": "/hybrid Where did Bob Jones study physics?"}])
        if c.choices)
    assert streamed == whole


@pytest.mark.parametrize(("prefix", "question"), [
    ("/local", "What did Alice Smith found in Berlin?"),
    ("/global", "Which company did Alice Smith found in Berlin?"),
    ("/hybrid", "What organization did Alice Smith found in Berlin?"),
    ("/mix", "Tell me what Alice Smith founded in Berlin?"),
])
def test_mode_prefixes_answer_from_the_graph(
    client: OpenAI, fake_llm: FakeLLMServer, prefix: str, question: str
) -> None:
    text = ask(client, f"{prefix} {question}")
    assert text.startswith("Answer from context. Entities:") and "acme.txt" in text
    # THEN the query reached retrieval without its prefix
    [keywords] = chat_calls(fake_llm, "high_level_keywords")
    prompt = keywords["messages"][-1]["content"]
    assert question in prompt and f"{prefix} " not in prompt


def test_naive_prefix_uses_chunks_only(client: OpenAI, fake_llm: FakeLLMServer) -> None:
    text = ask(client, "/naive Which summit does Berlin host every spring?")
    assert text.startswith("Answer from context. Entities: .")
    assert not chat_calls(fake_llm, "high_level_keywords")


def test_bypass_prefix_and_system_messages_go_straight_to_the_llm(
    client: OpenAI, fake_llm: FakeLLMServer
) -> None:
    completion = client.chat.completions.create(model="lightrag:latest", messages=[
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "/bypass Say hello to the reader"},
    ])
    assert completion.choices[0].message.content == "[system] Echo: Say hello to the reader"
    assert completion.model_extra["references"] == []  # type: ignore[index]
    assert not chat_calls(fake_llm, "---Context---")


@pytest.mark.parametrize(
    ("prefix", "has_graph"),
    [("/context", True), ("/localcontext", True), ("/globalcontext", True),
     ("/hybridcontext", True), ("/mixcontext", True), ("/naivecontext", False)],
)
def test_context_prefixes_return_the_retrieved_context(
    client: OpenAI, fake_llm: FakeLLMServer, prefix: str, has_graph: bool
) -> None:
    text = ask(client, f"{prefix} Tell me about Carol White and Space Weekly")
    assert "Reference Document List" in text
    assert ("Knowledge Graph Data (Entity)" in text) is has_graph
    assert not chat_calls(fake_llm, "---Context---")  # no answer was asked of the LLM


@pytest.mark.parametrize(
    ("content", "instruction"),
    [("/local[answer in one line] Who mentored Dana Green?", "answer in one line"),
     ("/[use a table] Who did Dana Green learn from?", "use a table")],
)
def test_bracket_form_passes_a_user_prompt(client: OpenAI, content: str, instruction: str) -> None:
    text = ask(client, content)
    assert f"Instructions: {instruction}" in text


def test_history_reaches_the_llm(client: OpenAI, fake_llm: FakeLLMServer) -> None:
    client.chat.completions.create(model="lightrag:latest", messages=[
        {"role": "user", "content": "We talk about satellites."},
        {"role": "assistant", "content": "Fine."},
        {"role": "user", "content": "Who builds weather satellites?"},
    ])
    [call] = chat_calls(fake_llm, "---Context---")
    assert [m["role"] for m in call["messages"]] == ["system", "user", "assistant", "user"]
    assert call["messages"][1]["content"] == "We talk about satellites."


def test_a_last_assistant_message_is_continued(client: OpenAI, fake_llm: FakeLLMServer) -> None:
    completion = client.chat.completions.create(model="lightrag:latest", messages=[
        {"role": "user", "content": "Who joined Acme Corp as chief engineer?"},
        {"role": "assistant", "content": "Bob Jones joined"},
    ])
    assert completion.choices[0].message.content
    [call] = chat_calls(fake_llm, "---Context---")
    assert call["messages"][-1]["content"] == prompts.CHAT_CONTINUE
    assert call["messages"][-2] == {"role": "assistant", "content": "Bob Jones joined"}


def test_content_parts_keep_the_text_and_ignore_images(client: OpenAI) -> None:
    completion = client.chat.completions.create(model="lightrag:latest", messages=[{
        "role": "user", "content": [
            {"type": "text", "text": "/bypass Describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]}])
    assert completion.choices[0].message.content == "Echo: Describe"


def test_unhonoured_parameters_are_ignored_but_n_must_be_1(client: OpenAI) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    text = ask(client, "/bypass Say ok", temperature=0.1, top_p=0.5, max_tokens=5,
               presence_penalty=1, seed=3, stop=["x"], user="u", tools=[tool],
               tool_choice="auto", response_format={"type": "text"}, logprobs=False,
               metadata={"a": "b"}, n=1, extra_body={"options": {"num_ctx": 8}})
    assert text == "Echo: Say ok"
    with pytest.raises(openai.BadRequestError) as caught:
        ask(client, "/bypass Say ok", n=2)
    assert caught.value.status_code == 400 and caught.value.param == "n"


def test_other_model_names_mean_the_default_knowledge_base(client: OpenAI) -> None:
    # LightRAG accepts any model name; only unknown lightrag:<ws> names are refused
    assert ask(client, "/bypass Say hi", model="gpt-4o") == "Echo: Say hi"
    with pytest.raises(openai.NotFoundError) as caught:
        ask(client, "/bypass Say hi", model="lightrag:nope")
    assert caught.value.code == "model_not_found" and caught.value.param == "model"


def test_api_v1_aliases(server: str) -> None:
    with OpenAI(base_url=f"{server}/api/v1", api_key="x", max_retries=0) as aliased:
        assert [m.id for m in aliased.models.list().data][0] == "lightrag:latest"
        assert aliased.models.retrieve("lightrag:orchard").id == "lightrag:orchard"
        assert ask(aliased, "/bypass Through the alias") == "Echo: Through the alias"
        assert len(aliased.embeddings.create(model="x", input="alias").data) == 1


def test_llm_failures_are_502_in_openai_shape(
    client: OpenAI, fake_llm: FakeLLMServer, http: httpx.Client
) -> None:
    fake_llm.fail_next(1, status=500)
    response = http.post("/v1/chat/completions", json={
        "model": "lightrag:latest", "messages": [{"role": "user", "content": "/bypass Fail now"}]})
    assert response.status_code == 502
    assert set(response.json()["error"]) == ERROR_KEYS
    assert response.json()["error"]["code"] == "llm_error"
    # AND a stream that fails after it started ends with an error event the SDK raises
    fake_llm.fail_next(1, status=500)
    with pytest.raises(openai.APIError, match="Provider error"):
        list(client.chat.completions.create(
            model="lightrag:latest", stream=True,
            messages=[{"role": "user", "content": "/bypass Fail while streaming"}]))


# -------------------------------------------------------------------------- embeddings


def test_embeddings_use_the_configured_model(client: OpenAI) -> None:
    texts = ["Acme Corp builds satellites", "Alice Smith"]
    result = client.embeddings.create(model="lightrag:latest", input=texts)
    assert result.object == "list" and result.model == "fake-embed"
    assert [d.index for d in result.data] == [0, 1]
    for item, text in zip(result.data, texts, strict=True):
        assert item.object == "embedding" and len(item.embedding) == DIM
        assert item.embedding == pytest.approx(brain.embed(text, DIM), abs=1e-6)
    tokens = sum(count_tokens(t) for t in texts)
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (tokens, tokens)
    # AND a single string, a matching dimensions and the orchard model work too
    single = client.embeddings.create(model="lightrag:orchard", input="quince", dimensions=DIM)
    assert len(single.data) == 1


def test_embeddings_in_base64(http: httpx.Client) -> None:
    response = http.post("/v1/embeddings", json={"model": "m", "input": "Quince Orchard",
                                                 "encoding_format": "base64"})
    raw = base64.b64decode(response.json()["data"][0]["embedding"])
    vector = struct.unpack(f"<{DIM}f", raw)
    assert vector == pytest.approx(brain.embed("Quince Orchard", DIM), abs=1e-6)


def test_embeddings_refuse_token_ids_and_other_dimensions(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="token ids"):
        client.embeddings.create(model="m", input=[[1, 2, 3]])
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        client.embeddings.create(model="m", input="x", dimensions=8)


# --------------------------------------------------------------------- malformed input

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
USER = {"role": "user", "content": "Who founded Acme Corp?"}


def body(**fields: Any) -> bytes:
    return json.dumps({"model": "lightrag:latest", "messages": [USER], **fields}).encode()


MALFORMED = [
    # (path, raw body, status, a fragment of the message, param)
    (CHAT, b"{", 400, "Invalid JSON", None),
    (CHAT, b"", 400, "body is empty", None),
    (CHAT, b"\xff\xfe\x00garbage", 400, "Invalid JSON", None),
    (CHAT, b"[1, 2]", 400, "must be a JSON object", None),
    (CHAT, b'{"messages": []}', 400, "model: Field required", "model"),
    (CHAT, b'{"model": 5, "messages": []}', 400, "model: Input should be a valid string", "model"),
    (CHAT, b'{"model": "m"}', 400, "messages: Field required", "messages"),
    (CHAT, b'{"model": "m", "messages": "hi"}', 400, "messages: Input should be a valid list",
     "messages"),
    (CHAT, body(messages=[]), 400, "No messages provided", "messages"),
    (CHAT, body(messages=[5]), 400, "messages[0]: Input should be a valid dictionary",
     "messages[0]"),
    (CHAT, body(messages=[{"content": "hi"}]), 400, "messages[0].role: Field required",
     "messages[0].role"),
    (CHAT, body(messages=[{"role": "tool", "content": "hi"}]), 400, "Unknown message role 'tool'",
     "messages"),
    (CHAT, body(messages=[{"role": "user", "content": 42}]), 400,
     "messages[0].content: message content must be a string", "messages[0].content"),
    (CHAT, body(messages=[{"role": "user", "content": [7]}]), 400,
     "each content part must be an object", "messages[0].content"),
    (CHAT, body(messages=[{"role": "user", "content": [{"type": "text", "text": 3}]}]), 400,
     "needs a string 'text'", "messages[0].content"),
    (CHAT, body(messages=[{"role": "system", "content": "Be nice."}]), 400,
     "Last message must be from user role", "messages"),
    (CHAT, body(messages=[{"role": "assistant", "content": "Hello"}]), 400,
     "Nothing to continue", "messages"),
    (CHAT, body(messages=[{"role": "user", "content": "/local "}]), 400,
     "Query must not be empty.", "messages"),
    (CHAT, body(messages=[{"role": "user", "content": "hi"}]), 400, "too short", "messages"),
    (CHAT, body(stream=[1]), 400, "stream: Input should be a valid boolean", "stream"),
    (CHAT, body(stream_options=5), 400, "stream_options: Input should be", "stream_options"),
    (CHAT, body(n="two"), 400, "n: Input should be a valid integer", "n"),
    (CHAT, body(n=0), 400, "n=0 is not supported", "n"),
    (CHAT, body(model="x" * 300), 400, "model: String should have at most 256", "model"),
    (CHAT, body(messages=[{"role": "user", "content": "q" * 40000}]), 413,
     "messages[0].content: at most 32768 characters", "messages"),
    (CHAT, body(messages=[USER] * 129), 413, "messages: at most 128", "messages"),
    (CHAT, body(model="lightrag:nope"), 404, "does not exist", "model"),
    (EMBED, b'{"model": "m"}', 400, "input: Field required", "input"),
    (EMBED, b'{"input": []}', 400, "non-empty", "input"),
    (EMBED, b'{"input": 5}', 400, "non-empty string", "input"),
    (EMBED, b'{"input": [1, 2, 3]}', 400, "token ids", "input"),
    (EMBED, b'{"input": ["ok", ""]}', 400, "input[1] is empty", "input[1]"),
    (EMBED, b'{"input": ["ok", {"a": 1}]}', 400, "input[1] must be a string", "input[1]"),
    (EMBED, b'{"input": "x", "encoding_format": "hex"}', 400, "encoding_format", "encoding_format"),
    (EMBED, b'{"input": "x", "model": "lightrag:nope"}', 404, "does not exist", "model"),
]


@pytest.mark.parametrize(("path", "raw", "status", "fragment", "param"), MALFORMED,
                         ids=[f"{p[1:]}-{i}" for i, (p, *_) in enumerate(MALFORMED)])
def test_malformed_requests_get_clear_openai_errors(
    http: httpx.Client, path: str, raw: bytes, status: int, fragment: str, param: str | None
) -> None:
    response = http.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS
    assert fragment in error["message"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"


def test_bodies_over_the_limit_are_refused_before_parsing(http: httpx.Client) -> None:
    huge = b'{"model": "m", "messages": [], "pad": "' + b"x" * (1 << 20) + b'"}'
    response = http.post(CHAT, content=huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"

    # AND a chunked body without Content-Length is cut off too
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "pad": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    response = http.post(EMBED, content=chunks())
    assert response.status_code == 413


def test_any_content_type_is_read_as_json(http: httpx.Client) -> None:
    response = http.post(CHAT, content=body(messages=[{"role": "user", "content": "/bypass Hi"}]),
                         headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: Hi"
