"""Wire protocols of the fake LLM server: OpenAI, Azure OpenAI, Ollama, lollms and rerank
(Cohere and Jina, Aliyun DashScope).

Every route first calls :func:`admit`, which records the request, applies an injected
fault, checks the API key and waits ``fake.delay`` (plus ``chat_delay`` or
``embedding_delay``); the answer text comes from the brain. Chat and embedding routes
also note the request's kind and size on its :class:`~tests.fakes.ledger.Call`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from lambdarag.llm.tokenizer import count_tokens
from tests.fakes import brain
from tests.fakes.ledger import EMBEDDING, RERANK

router = APIRouter()

MODELS = ("fake-llm", "fake-embed")
_LOLLMS_TURN = re.compile(r"^!@>(\w+):[ \t]*\n?", re.MULTILINE)


class FakeHTTPError(Exception):
    """An error answer: ``{"error": {"message": ...}}`` with ``status`` and ``headers``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


async def admit(request: Request, *, azure: bool = False) -> Any:
    """Record the request, then fail it, reject it or delay it as the test asked."""
    fake = request.app.state.fake
    raw = await request.body()
    body = json.loads(raw) if raw else None
    fault = fake.record(request.url.path, body)
    if fault is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        raise FakeHTTPError(fault.status, f"injected failure (HTTP {fault.status})", headers)
    if azure:
        _check_azure(request)
    if fake.api_key is not None and fake.api_key not in _presented_keys(request):
        raise FakeHTTPError(401, "Incorrect API key provided")
    path = request.url.path
    extra = (fake.rerank_delay if "rerank" in path
             else fake.embedding_delay if "embed" in path else fake.chat_delay)
    await _pause(request, fake.delay + extra)
    return body


def note(request: Request, kind: str, *, prompt_chars: int = 0, texts: int = 0) -> None:
    """Label this request's ledger entry (set by the server's in-flight middleware)."""
    call = request.scope.get("state", {}).get("fake_call")
    if call is not None:
        call.kind, call.prompt_chars, call.texts = kind, prompt_chars, texts


def note_chat(request: Request, system: str | None, messages: list[dict[str, str]]) -> None:
    chars = len(system or "") + sum(len(m.get("content") or "") for m in messages)
    note(request, brain.classify(system, messages), prompt_chars=chars)


async def _pause(request: Request, seconds: float) -> None:
    """Wait ``seconds``, giving up early when the client hangs up (as after its timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        if await request.is_disconnected():
            raise FakeHTTPError(499, "client closed the request")
        await asyncio.sleep(min(left, 0.01))


def _check_azure(request: Request) -> None:
    if "api-key" not in request.headers:
        raise FakeHTTPError(401, "Access denied due to missing subscription key")
    if "api-version" not in request.query_params:
        raise FakeHTTPError(400, "api-version query parameter is required")


def _presented_keys(request: Request) -> set[str]:
    keys = {request.headers.get("api-key", "")}
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        keys.add(authorization[len("bearer ") :])
    return keys - {""}


def split_system(messages: Iterable[dict[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    """The system prompt (joined system messages) and the other messages."""
    messages = list(messages)
    systems = [m["content"] for m in messages if m["role"] == "system"]
    return ("\n\n".join(systems) or None), [m for m in messages if m["role"] != "system"]


def parse_lollms_prompt(prompt: str) -> tuple[str | None, list[dict[str, str]]]:
    """Undo ``lambdarag.llm.lollms.build_prompt``: ``!@>role:`` headers back into messages."""
    parts = _LOLLMS_TURN.split(prompt)
    if len(parts) == 1:
        return None, [{"role": "user", "content": prompt}]
    turns = [
        {"role": role, "content": content.removesuffix("\n")}
        for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]
    if turns[-1]["role"] == "assistant" and not turns[-1]["content"].strip():
        turns.pop()
    return split_system(turns)


def usage(prompt_texts: Iterable[str], completion: str) -> dict[str, int]:
    prompt_tokens = sum(count_tokens(text) for text in prompt_texts)
    completion_tokens = count_tokens(completion)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _embedding_inputs(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _dim(request: Request, body: dict[str, Any]) -> int:
    return int(body.get("dimensions") or request.app.state.fake.dim)


# --- OpenAI and Azure OpenAI -----------------------------------------------------------


@router.get("/v1/models")
async def openai_models(request: Request) -> dict[str, Any]:
    await admit(request)
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in MODELS],
    }


@router.post("/v1/chat/completions")
async def openai_chat(request: Request) -> Any:
    return _openai_chat(request, await admit(request))


@router.post("/openai/deployments/{deployment}/chat/completions")
async def azure_chat(request: Request, deployment: str) -> Any:
    return _openai_chat(request, {"model": deployment, **await admit(request, azure=True)})


@router.post("/v1/embeddings")
async def openai_embeddings(request: Request) -> dict[str, Any]:
    return _openai_embeddings(request, await admit(request))


@router.post("/openai/deployments/{deployment}/embeddings")
async def azure_embeddings(request: Request, deployment: str) -> dict[str, Any]:
    return _openai_embeddings(request, {"model": deployment, **await admit(request, azure=True)})


def _openai_chat(request: Request, body: dict[str, Any]) -> Any:
    system, messages = split_system(body.get("messages", []))
    note_chat(request, system, messages)
    text = brain.respond(system, messages)
    model = body.get("model", MODELS[0])
    if body.get("stream"):
        return StreamingResponse(_openai_sse(text, model), media_type="text/event-stream")
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": usage((m["content"] for m in body.get("messages", [])), text),
    }


async def _openai_sse(text: str, model: str) -> AsyncIterator[str]:
    def chunk(delta: dict[str, str], finish_reason: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model}
        return f"data: {json.dumps({**payload, 'choices': [choice]})}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    for delta in brain.split_deltas(text):
        yield chunk({"content": delta}, None)
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def _openai_embeddings(request: Request, body: dict[str, Any]) -> Response:
    """OpenAI's embedding list: floats, or base64 of little-endian float32 when
    ``encoding_format`` is ``base64`` (what the official SDK asks for by default)."""
    texts = _embedding_inputs(body.get("input", []))
    note(request, EMBEDDING, texts=len(texts))
    dim = _dim(request, body)
    as_base64 = body.get("encoding_format") == "base64"
    answer = {
        "object": "list",
        "model": body.get("model", MODELS[1]),
        "data": [
            {"object": "embedding", "index": i,
             "embedding": _base64(vector) if as_base64 else vector}
            for i, vector in enumerate(brain.embed(text, dim) for text in texts)
        ],
        "usage": usage(texts, ""),
    }
    # json.dumps directly: FastAPI's encoder walks every float, which costs more than the answer
    return Response(json.dumps(answer), media_type="application/json")


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


# --- Ollama ----------------------------------------------------------------------------


@router.get("/api/tags")
async def ollama_tags(request: Request) -> dict[str, Any]:
    await admit(request)
    return {"models": [{"name": f"{m}:latest", "model": f"{m}:latest", "size": 0} for m in MODELS]}


@router.post("/api/chat")
async def ollama_chat(request: Request) -> Any:
    body = await admit(request)
    system, messages = split_system(body.get("messages", []))
    note_chat(request, system, messages)
    text = brain.respond(system, messages)
    prompts = [m["content"] for m in body.get("messages", [])]
    return _ollama_answer(body, text, prompts, lambda delta: {"message": _assistant(delta)})


@router.post("/api/generate")
async def ollama_generate(request: Request) -> Any:
    body = await admit(request)
    prompt = body.get("prompt", "")
    note_chat(request, body.get("system"), [{"role": "user", "content": prompt}])
    text = brain.respond(body.get("system"), [{"role": "user", "content": prompt}])
    return _ollama_answer(body, text, [prompt], lambda delta: {"response": delta})


def _assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def _ollama_answer(
    body: dict[str, Any], text: str, prompts: list[str], shape: Callable[[str], dict[str, Any]]
) -> Any:
    """Ollama's reply: NDJSON deltas when streaming (the default), else one object."""
    model = body.get("model", MODELS[0])
    counts = usage(prompts, text)
    final = {
        "model": model,
        "created_at": "2024-01-01T00:00:00Z",
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": counts["prompt_tokens"],
        "eval_count": counts["completion_tokens"],
    }
    if not body.get("stream", True):
        return {**final, **shape(text)}

    async def lines() -> AsyncIterator[str]:
        for delta in brain.split_deltas(text):
            head = {"model": model, "created_at": final["created_at"], "done": False}
            yield json.dumps({**head, **shape(delta)}) + "\n"
        yield json.dumps({**final, **shape("")}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/api/embed")
async def ollama_embed(request: Request) -> dict[str, Any]:
    body = await admit(request)
    texts = _embedding_inputs(body.get("input", []))
    note(request, EMBEDDING, texts=len(texts))
    dim = _dim(request, body)
    return {
        "model": body.get("model", MODELS[1]),
        "embeddings": [brain.embed(text, dim) for text in texts],
        "prompt_eval_count": usage(texts, "")["prompt_tokens"],
    }


@router.post("/api/embeddings")
async def ollama_legacy_embeddings(request: Request) -> dict[str, Any]:
    body = await admit(request)
    note(request, EMBEDDING, texts=1)
    return {"embedding": brain.embed(body.get("prompt", ""), request.app.state.fake.dim)}


# --- rerank ----------------------------------------------------------------------------


def _ranked(request: Request, query: str, documents: list[str], top_n: int | None) -> list[Any]:
    note(request, RERANK, texts=len(documents))
    scores = brain.rerank(query, documents, request.app.state.fake.rerank_order)
    ranked = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[: top_n or None]
    return [{"index": i, "relevance_score": scores[i]} for i in ranked]


@router.post("/v1/rerank")  # Cohere v1 and Jina
@router.post("/v2/rerank")  # Cohere v2 (LightRAG's default Cohere host)
async def standard_rerank(request: Request) -> dict[str, Any]:
    body = await admit(request)
    results = _ranked(request, body["query"], body["documents"], body.get("top_n"))
    return {"id": "rerank-fake", "results": results, "meta": {"billed_units": {"search_units": 1}}}


@router.post("/api/v1/services/rerank/text-rerank/text-rerank")  # Aliyun DashScope
async def aliyun_rerank(request: Request) -> dict[str, Any]:
    body = await admit(request)
    given = body["input"]
    results = _ranked(request, given["query"], given["documents"],
                      body.get("parameters", {}).get("top_n"))
    return {"output": {"results": results}, "usage": {"total_tokens": 1},
            "request_id": "rerank-fake"}


# --- lollms ----------------------------------------------------------------------------


@router.post("/lollms_generate")
async def lollms_generate(request: Request) -> Any:
    body = await admit(request)
    system, messages = parse_lollms_prompt(body.get("prompt", ""))
    note_chat(request, system, messages)
    text = brain.respond(system, messages)
    if not body.get("stream"):
        return PlainTextResponse(text)

    async def chunks() -> AsyncIterator[str]:
        for delta in brain.split_deltas(text):
            yield delta

    return StreamingResponse(chunks(), media_type="text/plain")


@router.post("/lollms_embed")
async def lollms_embed(request: Request) -> dict[str, Any]:
    body = await admit(request)
    note(request, EMBEDDING, texts=1)
    return {"vector": brain.embed(body.get("text", ""), request.app.state.fake.dim)}
