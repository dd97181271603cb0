"""``/api/*``: the Ollama emulation, so Ollama clients (Open WebUI) chat with the knowledge bases.

Every knowledge base is a model (``lambdarag.chat.conversation``): ``lightrag:latest`` is the
request's own workspace and ``lightrag:<ws>`` any other stored one. Bodies are read with a
size cap and parsed as JSON whatever the Content-Type. Errors carry both ``detail`` (the
contract) and ``error`` (what Ollama clients read). Model management is refused with 405.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdarag.api import deps, errors
from lambdarag.api.auth import Principal
from lambdarag.api.deps import EngineDep, PrincipalDep, SettingsDep, WorkspaceNameDep
from lambdarag.api.routes.query import NDJSON_HEADERS, NDJSONResponse
from lambdarag.chat.conversation import (
    ChatAnswer,
    ChatMessage,
    ChatPlan,
    ChatRequestError,
    check_images,
    count_tokens,
    default_model,
    plan_chat,
    plan_generate,
    run_chat,
)
from lambdarag.config import Settings
from lambdarag.llm.base import LLMError
from lambdarag.runtime.engine import Engine
from lambdarag.storage.base import StorageError
from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["ollama"])

OLLAMA_VERSION = "0.9.3"
CREATED_AT = "2024-01-15T00:00:00Z"
MODEL_SIZE = 7365960935
MODEL_DIGEST = "sha256:lightrag"
EXPIRES_AT = "2050-12-31T14:38:31.83753-07:00"
NO_RESPONSE = "No response generated"
Body = TypeVar("Body", bound=BaseModel)


# ----------------------------------------------------------------------- bodies


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(None, max_length=256, examples=["lightrag:latest"])


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = Field(examples=["user"])
    content: str | None = Field(None, examples=["/local Who founded Acme Corp?"])
    images: list[Any] | None = Field(None, description="Accepted (at most 16) and ignored.")


class ChatBody(_Request):
    messages: list[OllamaMessage]
    stream: bool = True
    system: str | None = None
    options: dict[str, Any] | None = None


class GenerateBody(_Request):
    prompt: str = Field("", examples=["Write a haiku about graphs."])
    system: str | None = None
    stream: bool = False
    options: dict[str, Any] | None = None


class EmbedBody(_Request):
    input: str | list[str] = Field(default_factory=list, examples=[["Acme Corp", "Berlin"]])
    dimensions: int | None = Field(None, ge=1, description="Truncate (and renormalise) vectors.")


class EmbeddingsBody(_Request):
    prompt: str = Field("", examples=["Acme Corp"])


class ShowBody(_Request):
    name: str | None = Field(None, max_length=256, description="Older clients send the model here.")


# ---------------------------------------------------------------------- helpers


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message, "error": message}, status_code=status, headers=headers)


def _refused(exc: ChatRequestError) -> JSONResponse:
    return _error(exc.status_code, exc.message)


def _provider_failed(exc: LLMError) -> JSONResponse:
    logger.warning("ollama route: provider failed: %s", exc)
    error = errors.provider_error(exc)
    return _error(error.status_code, error.detail, error.headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes (0: no limit) before reading it all."""
    too_big = ChatRequestError(
        413, f"Request body too large. This endpoint accepts at most {limit} bytes."
    )
    declared = request.headers.get("content-length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        raise too_big
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if limit and size > limit:
            raise too_big
        parts.append(chunk)
    return b"".join(parts)


async def _parse(request: Request, settings: Settings, model: type[Body]) -> Body:
    """The body as ``model``: JSON whatever the Content-Type; 400 or 413 otherwise."""
    raw = await _read_body(request, settings.max_request_body_bytes)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8/16/32, or nested too deep
        raise ChatRequestError(400, "Invalid JSON in request body") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(  # the first few are enough to fix the request
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ChatRequestError(400, f"Invalid request body: {problems}") from None


# The workspace ``<name>:<tag>`` means: the LIGHTRAG-WORKSPACE header (validated, and
# allowed for the caller), else WORKSPACE.
DefaultWorkspaceDep = WorkspaceNameDep


def _model_name(requested: str | None, settings: Settings) -> str:
    """The model a response names: the requested knowledge base, else the default model."""
    prefix = f"{settings.ollama_emulating_model_name}:"
    return requested if requested and requested.startswith(prefix) else default_model(settings)


def _details(settings: Settings, family: str | None = None, size: str = "13B") -> dict[str, Any]:
    family = family or settings.ollama_emulating_model_name
    return {"parent_model": "", "format": "gguf", "family": family, "families": [family],
            "parameter_size": size, "quantization_level": "Q4_0"}


@dataclass
class _Clock:
    """Ollama's timings, in nanoseconds from just after the body was parsed."""

    start: int
    first: int | None = None
    last: int | None = None

    def mark(self) -> None:
        now = time.time_ns()
        self.first = now if self.first is None else self.first
        self.last = now

    def counters(self, prompt_tokens: int, text: str) -> dict[str, Any]:
        first = self.first or time.time_ns()
        last = self.last or first
        return {"total_duration": last - self.start, "load_duration": 0,
                "prompt_eval_count": prompt_tokens, "prompt_eval_duration": first - self.start,
                "eval_count": count_tokens(text), "eval_duration": last - first}


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


Shape = Callable[[str], dict[str, Any]]


def _chat_shape(content: str) -> dict[str, Any]:
    return {"message": {"role": "assistant", "content": content, "images": None}}


def _generate_shape(content: str) -> dict[str, Any]:
    return {"response": content}


async def _respond(
    ws: Workspace, plan: ChatPlan, model: str, clock: _Clock, *, stream: bool, shape: Shape,
    extra: dict[str, Any],
) -> Response:
    """A chat or generate answer: NDJSON lines when streaming, else one object.

    ``extra`` goes into the final object (generate's ``"context": []``).
    """
    if stream:
        lines = _stream_lines(model, lambda: run_chat(ws, plan, stream=True), clock, shape, extra)
        return NDJSONResponse(lines, headers=NDJSON_HEADERS)
    clock.mark()
    try:
        answer = await run_chat(ws, plan, stream=False)
    except LLMError as exc:
        return _provider_failed(exc)
    clock.mark()
    text = answer.text or NO_RESPONSE
    return JSONResponse({"model": model, "created_at": CREATED_AT, **shape(text), "done": True,
                         "done_reason": "stop", **extra,
                         **clock.counters(answer.prompt_tokens, text)})


async def _stream_lines(
    model: str, produce: Callable[[], Any], clock: _Clock, shape: Shape, final: dict[str, Any]
) -> AsyncIterator[str]:
    """NDJSON: one line per delta, then the final line with the counters.

    ``produce`` runs the chat inside the stream, so a failure before the first delta is
    an error line too: ``"\\n\\nError: <msg>"`` with an ``error`` key, then a bare done line.
    """
    head = {"model": model, "created_at": CREATED_AT}
    parts: list[str] = []
    answer: ChatAnswer | None = None
    try:
        answer = await produce()
        if answer.chunks is None:
            clock.mark()
            parts.append(answer.text or NO_RESPONSE)
            yield _line({**head, **shape(parts[0]), "done": False})
        else:
            async for delta in answer.chunks:
                if delta:
                    clock.mark()
                    parts.append(delta)
                    yield _line({**head, **shape(delta), "done": False})
    except Exception as exc:  # noqa: BLE001 - any failure ends the stream with an error line
        if isinstance(exc, LLMError):
            logger.warning("ollama stream: provider failed: %s", exc)
            message = f"\n\nError: {errors.provider_error(exc).detail}"
        elif isinstance(exc, StorageError):
            logger.warning("ollama stream: %s", exc)
            message = f"\n\nError: {errors.storage_error(exc).detail}"
        else:
            error_id = uuid.uuid4().hex[:12]
            logger.error("ollama stream failed (error_id=%s)", error_id, exc_info=exc)
            message = f"\n\nError: Internal server error (error_id: {error_id})"
        yield _line({**head, **shape(message), "error": message, "done": False})
        yield _line({**head, **shape(""), "done": True})
        return
    prompt_tokens = answer.prompt_tokens if answer else 0
    yield _line({**head, **shape(""), "done": True, "done_reason": "stop", **final,
                 **clock.counters(prompt_tokens, "".join(parts))})


def _body_doc(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body the route parses itself (any Content-Type)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    media = {"schema": inline(schema), "example": example}
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


def _errors_doc(*statuses: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "Invalid JSON in request body",
        404: "model 'lightrag:nope' not found; GET /api/tags lists the knowledge bases",
        405: "/api/pull is not supported: ...",
        413: "Request payload exceeds the allowed size (messages[0].content: at most 32768 characters).",
        502: "Provider error: LLM host http://localhost:11434 (LLM_BINDING_HOST) refused the "
             "request: HTTP 400: ...",
        503: "Provider error: LLM host http://localhost:11434 (LLM_BINDING_HOST) is "
             "unreachable: connection refused (3 attempts); check that the server is running",
        504: "Provider error: LLM host http://localhost:11434 (LLM_BINDING_HOST) did not answer "
             "within 240 s (ReadTimeout); check the server or raise LLM_TIMEOUT",
    }
    return {status: {"description": texts[status].split(":")[0], "content": {"application/json": {
        "example": {"detail": texts[status], "error": texts[status]}}}} for status in statuses}


# ------------------------------------------------------------------ metadata routes


@router.get("/version", summary="Ollama version")
async def version() -> dict[str, str]:
    """The Ollama version this emulation answers as."""
    return {"version": OLLAMA_VERSION}


@router.get("/tags", summary="The knowledge bases, as Ollama models")
async def tags(
    engine: EngineDep, settings: SettingsDep, default: DefaultWorkspaceDep, caller: PrincipalDep
) -> dict[str, Any]:
    """``lightrag:latest`` (the request's workspace, even when empty), then ``lightrag:<ws>``
    for every other stored workspace the caller may use. Chat with one by naming it as the
    ``model``."""
    return {"models": [
        {"name": m.name, "model": m.name, "modified_at": CREATED_AT, "size": MODEL_SIZE,
         "digest": MODEL_DIGEST, "details": _details(settings)}
        for m in deps.visible_models(engine, settings, default, caller)
    ]}


@router.get("/ps", summary="Running models")
async def ps(settings: SettingsDep) -> dict[str, Any]:
    """The default model, always "loaded"."""
    name = default_model(settings)
    return {"models": [{"name": name, "model": name, "size": MODEL_SIZE, "digest": MODEL_DIGEST,
                        "details": _details(settings, "llama", "7.2B"), "expires_at": EXPIRES_AT,
                        "size_vram": MODEL_SIZE}]}


@router.post("/show", summary="Describe a knowledge base model", responses=_errors_doc(400, 404),
             openapi_extra=_body_doc(ShowBody, {"model": "lightrag:latest"}))
async def show(request: Request, engine: EngineDep, settings: SettingsDep,
               default: DefaultWorkspaceDep, caller: PrincipalDep) -> JSONResponse:
    """Details of a model from ``/api/tags`` (a name without a tag means ``:latest``); 404 otherwise."""
    try:
        body = await _parse(request, settings, ShowBody)
        requested = body.model or body.name or ""
        wanted = requested if ":" in requested else f"{requested}:latest"
        models = {m.name: m for m in deps.visible_models(engine, settings, default, caller)}
        found = models.get(wanted)
        if found is None:
            raise ChatRequestError(404, f"model '{requested}' not found; GET /api/tags lists the knowledge bases")
    except ChatRequestError as exc:
        return _refused(exc)
    family = settings.ollama_emulating_model_name
    return JSONResponse({
        "license": "",
        "modelfile": f"# LightRAG knowledge base served by LambdaRAG\nFROM {found.name}\n",
        "parameters": "",
        "template": "{{ .Prompt }}",
        "details": _details(settings),
        "model_info": {"general.architecture": family, "general.basename": found.name,
                       f"{family}.workspace": found.workspace,
                       f"{family}.embedding_length": engine.embedder.dim},
        "capabilities": ["completion"],
        "modified_at": CREATED_AT,
    })


# ------------------------------------------------------------------- chat, generate


async def _open(
    engine: Engine, settings: Settings, model: str | None, default: str, caller: Principal
) -> tuple[Any, str]:
    """(workspace, model name for the response) of a request's ``model``; 404 if unknown,
    403 if the caller may not use it."""
    name = deps.model_workspace(model, engine, settings, default, caller)
    return await engine.workspace(name), _model_name(model, settings)


CHAT_EXAMPLE = {"model": "lightrag:latest", "stream": False,
                "messages": [{"role": "user", "content": "/mix[be brief] Who founded Acme Corp?"}]}
COUNTERS = {"total_duration": 2_400_000_000, "load_duration": 0, "prompt_eval_count": 7,
            "prompt_eval_duration": 1_100_000_000, "eval_count": 21, "eval_duration": 1_300_000_000}
CHAT_ANSWER = "Alice Smith founded Acme Corp [1].\n\n### References\n\n- [1] acme.txt"
CHAT_STREAM = "".join(_line(line) for line in (
    {"model": "lightrag:latest", "created_at": CREATED_AT, **_chat_shape("Alice Smith founded "),
     "done": False},
    {"model": "lightrag:latest", "created_at": CREATED_AT, **_chat_shape("Acme Corp [1]. ..."),
     "done": False},
    {"model": "lightrag:latest", "created_at": CREATED_AT, **_chat_shape(""), "done": True,
     "done_reason": "stop", **COUNTERS},
))
CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The answer: one JSON object, or NDJSON lines when streaming.",
          "content": {
              "application/json": {"example": {
                  "model": "lightrag:latest", "created_at": CREATED_AT,
                  **_chat_shape(CHAT_ANSWER), "done_reason": "stop", "done": True, **COUNTERS}},
              "application/x-ndjson": {"example": CHAT_STREAM}}},
    **_errors_doc(400, 404, 413, 502, 503, 504),
}


@router.post(
    "/chat", summary="Chat with a knowledge base (Ollama chat)",
    responses=CHAT_RESPONSES, openapi_extra=_body_doc(ChatBody, CHAT_EXAMPLE),
)
async def chat(
    request: Request, engine: EngineDep, settings: SettingsDep, default: DefaultWorkspaceDep,
    caller: PrincipalDep,
) -> Any:
    """Answer the last user message from the knowledge base; ``stream`` defaults to true.

    Prefixes pick the query mode: ``/local``, ``/global``, ``/naive``, ``/hybrid``, ``/mix``
    (the default), ``/bypass`` (straight to the LLM), ``/context`` and ``/<mode>context``
    (the retrieved context only); ``/<mode>[instructions] query`` adds instructions.
    Earlier messages are the conversation history. A last message from the assistant asks
    to continue that answer. Open WebUI's title, tag and follow-up prompts go straight to
    the LLM. Images are ignored.
    """
    try:
        body = await _parse(request, settings, ChatBody)
        clock = _Clock(time.time_ns())
        check_images([len(m.images or []) for m in body.messages])
        messages = [ChatMessage.from_wire(m.role, m.content) for m in body.messages]
        plan = plan_chat(messages, system=body.system, stream=body.stream)
        ws, model = await _open(engine, settings, body.model, default, caller)
    except ChatRequestError as exc:
        return _refused(exc)
    return await _respond(ws, plan, model, clock, stream=body.stream, shape=_chat_shape, extra={})


GENERATE_EXAMPLE = {"model": "lightrag:latest", "prompt": "Write a haiku about graphs."}
GENERATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The completion (NDJSON lines of response deltas when streaming).",
          "content": {"application/json": {"example": {
              "model": "lightrag:latest", "created_at": CREATED_AT,
              "response": "Nodes hold the facts...", "done": True, "done_reason": "stop",
              "context": [], **COUNTERS}}}},
    **_errors_doc(400, 404, 413, 502, 503, 504),
}


@router.post(
    "/generate", summary="Raw completion by the LLM (Ollama generate)",
    responses=GENERATE_RESPONSES,
    openapi_extra=_body_doc(GenerateBody, GENERATE_EXAMPLE),
)
async def generate(
    request: Request, engine: EngineDep, settings: SettingsDep, default: DefaultWorkspaceDep,
    caller: PrincipalDep,
) -> Any:
    """``prompt`` (with ``system``) straight to the LLM; the knowledge base is never used.
    ``stream`` defaults to false."""
    try:
        body = await _parse(request, settings, GenerateBody)
        clock = _Clock(time.time_ns())
        plan = plan_generate(body.prompt, system=body.system)
        ws, model = await _open(engine, settings, body.model, default, caller)
    except ChatRequestError as exc:
        return _refused(exc)
    return await _respond(ws, plan, model, clock, stream=body.stream, shape=_generate_shape,
                          extra={"context": []})


# ----------------------------------------------------------------------- embeddings


async def _embedding_answer(answer: Callable[[], Awaitable[Response]]) -> Response:
    """``answer()``, or a refused request or failed provider as Ollama's error reply."""
    try:
        return await answer()
    except ChatRequestError as exc:
        return _refused(exc)
    except LLMError as exc:
        return _provider_failed(exc)


async def _embed(engine: Engine, texts: list[str], dimensions: int | None) -> list[list[float]]:
    """Vectors from the configured embedding binding, optionally truncated and renormalised."""
    import numpy as np

    if not texts:
        return []
    rows = np.asarray(await engine.embedder.embed(texts), dtype=np.float64)
    if dimensions is not None:
        if dimensions > rows.shape[1]:
            raise ChatRequestError(
                400, f"dimensions must be at most {rows.shape[1]}, the embedding model's size"
            )
        rows = rows[:, :dimensions]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        rows = rows / np.where(norms == 0, 1.0, norms)
    return rows.tolist()  # type: ignore[no-any-return]


@router.post(
    "/embed", summary="Embeddings (Ollama embed)", responses=_errors_doc(400, 404, 413, 502, 503, 504),
    openapi_extra=_body_doc(EmbedBody, {"model": "lightrag:latest", "input": ["Acme Corp"]}),
)
async def embed(
    request: Request, engine: EngineDep, settings: SettingsDep, default: DefaultWorkspaceDep,
    caller: PrincipalDep,
) -> Response:
    """One vector per input string, from the server's embedding model (EMBEDDING_MODEL)."""

    async def answer() -> Response:
        body = await _parse(request, settings, EmbedBody)
        started = time.time_ns()
        deps.model_workspace(body.model, engine, settings, default, caller)
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        vectors = await _embed(engine, texts, body.dimensions)
        return JSONResponse({"model": _model_name(body.model, settings), "embeddings": vectors,
                             "total_duration": time.time_ns() - started, "load_duration": 0,
                             "prompt_eval_count": sum(count_tokens(t) for t in texts)})

    return await _embedding_answer(answer)


@router.post(
    "/embeddings", summary="One embedding (Ollama's older API)",
    responses=_errors_doc(400, 404, 413, 502, 503, 504),
    openapi_extra=_body_doc(EmbeddingsBody, {"model": "lightrag:latest", "prompt": "Acme Corp"}),
)
async def embeddings(
    request: Request, engine: EngineDep, settings: SettingsDep, default: DefaultWorkspaceDep,
    caller: PrincipalDep,
) -> Response:
    """``{"embedding": [...]}`` for ``prompt``; an empty prompt gives an empty vector."""

    async def answer() -> Response:
        body = await _parse(request, settings, EmbeddingsBody)
        deps.model_workspace(body.model, engine, settings, default, caller)
        vectors = await _embed(engine, [body.prompt] if body.prompt else [], None)
        return JSONResponse({"embedding": vectors[0] if vectors else []})

    return await _embedding_answer(answer)


# ----------------------------------------------------------------- model management

# 405, not 400: the request may be perfectly valid, but this server has no models to
# pull, push, create, copy or delete; its "models" are knowledge bases, made by indexing.
MANAGEMENT = (("POST", "pull"), ("POST", "push"), ("POST", "create"), ("POST", "copy"),
              ("DELETE", "delete"))


def _not_supported(operation: str) -> Callable[[], Any]:
    async def refuse() -> JSONResponse:
        return _error(
            405,
            f"/api/{operation} is not supported: LightRAG's models are knowledge bases, not "
            "model files. Add documents with POST /documents/upload or /documents/text; a new "
            "LIGHTRAG-WORKSPACE header value makes a new knowledge base (GET /api/tags lists them).",
            headers={"Allow": ""},
        )

    refuse.__doc__ = f"Not supported (405): there are no model files to {operation}."
    return refuse


for _method, _operation in MANAGEMENT:
    router.add_api_route(
        f"/{_operation}", _not_supported(_operation), methods=[_method], status_code=405,
        summary=f"Model {_operation} (not supported)", responses=_errors_doc(405),
    )
