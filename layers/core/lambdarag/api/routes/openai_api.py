"""The OpenAI-compatible API: ``/v1/models``, ``/v1/chat/completions`` and ``/v1/embeddings``.

Point any OpenAI client (or Open WebUI's "OpenAI API" connection) at ``<server>/v1``. Each
knowledge base is a model (``lightrag:latest`` is the request's workspace, ``lightrag:<ws>``
every other stored workspace), and chat uses the same semantics as the Ollama ``/api/chat``
emulation (:mod:`lambdarag.chat.conversation`): ``/local``, ``/mix``, ``/bypass``, ``/context`` and
``/mode[user prompt]`` prefixes, Open WebUI task prompts answered by the LLM alone, and a
last assistant message continued ("Continue response").

``/api/v1/models``, ``/api/v1/chat/completions`` and ``/api/v1/embeddings`` are aliases for
clients configured with an ``/api/v1`` base. Errors are OpenAI's ``{"error": {"message", "type", "param", "code"}}``
with status 400, 404 or 413, or 502, 503 or 504 when the LLM or embedding provider
refused, is unreachable or timed out (code ``llm_error``), never FastAPI's 422 shape; missing or
wrong credentials are 401 ``invalid_api_key`` (the API key is accepted as a Bearer token),
and a workspace the account may not use is 403.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdarag.api import deps, errors
from lambdarag.api.auth import Principal
from lambdarag.api.deps import EngineDep, PrincipalDep, SettingsDep, WorkspaceNameDep
from lambdarag.chat.conversation import (
    ChatAnswer,
    ChatMessage,
    ChatPlan,
    ChatRequestError,
    count_tokens,
    plan_chat,
    run_chat,
)
from lambdarag.config import Settings
from lambdarag.llm.base import LLMError
from lambdarag.runtime.engine import Engine
from lambdarag.storage.base import StorageError

if TYPE_CHECKING:
    import numpy as np

    from lambdarag.workspace.workspace import Workspace

logger = logging.getLogger(__name__)

CREATED = 1705276800  # 2024-01-15T00:00:00Z, the Ollama emulation's constant model date
OWNER = "lambdarag"
MAX_EMBEDDING_INPUTS = 2048
SSE_HEADERS = {"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"}
BodyT = TypeVar("BodyT", bound=BaseModel)


# ------------------------------------------------------------------------------- errors


class OpenAIError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        kind = "server_error" if self.status >= 500 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param,
                          "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic location as OpenAI names parameters: ``messages[0].content``."""
    path = ""
    for part in loc:
        if part == "body":
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _validation_error(errors: list[Any] | tuple[Any, ...]) -> OpenAIError:
    """A 400 naming each invalid field and what is wrong with it."""
    parts, first = [], None
    for error in errors:
        where = _field_path(error.get("loc", ()))
        first = first or where or None
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return OpenAIError(400, "Invalid request: " + "; ".join(parts), param=first, code="invalid_value")


def _chat_error(exc: ChatRequestError) -> OpenAIError:
    """A refusal of :mod:`lambdarag.chat.conversation` (400, 404 or 413) in OpenAI's shape."""
    code = {404: "model_not_found", 413: "request_too_large"}.get(exc.status_code)
    param = "model" if exc.status_code == 404 else "messages"
    return OpenAIError(exc.status_code, exc.message, param=param, code=code)


def _http_error(exc: HTTPException) -> Response:
    """An HTTP error (with its headers) in OpenAI's shape."""
    response = OpenAIError(exc.status_code, str(exc.detail),
                           code=getattr(exc, "code", None)).response()
    response.headers.update(exc.headers or {})
    return response


class OpenAIRoute(APIRoute):
    """Answers this router's errors in OpenAI's shape; other routers keep the app's handlers."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except OpenAIError as exc:
                return exc.response()
            except ChatRequestError as exc:
                return _chat_error(exc).response()
            except RequestValidationError as exc:
                return _validation_error(exc.errors()).response()
            except HTTPException as exc:  # auth (401/403) and workspace (400/403) errors too
                return _http_error(exc)
            except LLMError as exc:
                logger.warning("%s %s: provider failed: %s", request.method, request.url.path, exc)
                return _http_error(errors.provider_error(exc))
            except StorageError as exc:
                logger.warning("%s %s: %s", request.method, request.url.path, exc)
                return _http_error(errors.storage_error(exc))

        return guarded


router = APIRouter(tags=["openai"], route_class=OpenAIRoute)


# ----------------------------------------------------------------------- request bodies


CONTENT_SCHEMA = {"anyOf": [
    {"type": "string"},
    {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string"}, "text": {"type": "string"}}}},
    {"type": "null"},
]}


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(description="system, developer, user or assistant.")
    content: Any = Field(None, json_schema_extra=CONTENT_SCHEMA, description=(
        'A string, or content parts: "text" parts are read, "image_url" and others ignored.'))


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; other parameters (temperature, tools, ...) are ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=256, description="A knowledge base from GET /v1/models.")
    messages: list[MessageIn] = Field(description="The conversation; the last user message is "
                                                  "the question (a last assistant message is "
                                                  "continued).")
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, description="Only 1 is supported.")


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: Any = Field(description="A string or a list of strings (token ids are not supported).")
    model: str | None = Field(None, description="A knowledge base from GET /v1/models; other "
                                                "names mean lightrag:latest.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, description="Must equal the configured EMBEDDING_DIM.")


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` inlined, for an ``openapi_extra`` body."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)  # type: ignore[no-any-return]


def _request_body(model: type[BaseModel], examples: dict[str, Any]) -> dict[str, Any]:
    named = {key: {"summary": key, "value": value} for key, value in examples.items()}
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": _inline_refs(model.model_json_schema()), "examples": named}}}}


async def _read_json(request: Request, settings: Settings) -> Any:
    """The JSON body, refused with 413 past MAX_REQUEST_BODY_BYTES before it is parsed."""
    limit = settings.max_request_body_bytes
    declared = request.headers.get("content-length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if limit and len(raw) > limit:
            raise _too_large(limit)
    if not raw.strip():
        raise OpenAIError(400, "The request body is empty: send a JSON object.")
    try:
        return json.loads(bytes(raw))
    except json.JSONDecodeError as exc:
        raise OpenAIError(400, f"Invalid JSON in request body: {exc.msg} at line {exc.lineno}, "
                               f"column {exc.colno}.", code="invalid_json") from exc
    except ValueError as exc:  # bytes that are not UTF-8/16/32 text
        raise OpenAIError(400, "Invalid JSON in request body: it is not UTF-8 text.",
                          code="invalid_json") from exc
    except RecursionError as exc:
        raise OpenAIError(400, "Invalid JSON in request body: it is nested too deeply.",
                          code="invalid_json") from exc


def _too_large(limit: int) -> OpenAIError:
    return OpenAIError(413, f"Request body too large. This endpoint accepts at most {limit} bytes.",
                       code="request_too_large")


def _parse(model: type[BodyT], data: Any) -> BodyT:
    if not isinstance(data, dict):
        raise OpenAIError(400, "Invalid request: the body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc.errors()) from exc




# ------------------------------------------------------------------------ OpenAPI docs

REFERENCES = [{"reference_id": "1", "file_path": "report.pdf", "pages": [2, 3]}]
ANSWER_TEXT = "Alice Smith founded Acme Corp in Berlin [1].\n\n### References\n\n- [1] report.pdf"
MODEL_LIST = {"object": "list", "data": [
    {"id": "lightrag:latest", "object": "model", "created": CREATED, "owned_by": OWNER},
    {"id": "lightrag:finance", "object": "model", "created": CREATED, "owned_by": OWNER},
]}
COMPLETION_EXAMPLE = {
    "id": "chatcmpl-6f1ed002ab5595859014ebf0951522d9", "object": "chat.completion",
    "created": 1767225600, "model": "lightrag:latest", "system_fingerprint": None,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER_TEXT,
                                         "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 6, "completion_tokens": 27, "total_tokens": 33},
    "references": REFERENCES,
}
STREAM_EXAMPLE = "".join(f"data: {json.dumps(event)}\n\n" for event in (
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1767225600,
     "model": "lightrag:latest", "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                   "content": ""},
                                              "finish_reason": None}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1767225600,
     "model": "lightrag:latest", "choices": [{"index": 0, "delta": {"content": ANSWER_TEXT},
                                              "finish_reason": None}]},
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1767225600,
     "model": "lightrag:latest", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
     "references": REFERENCES},
)) + "data: [DONE]\n\n"


def _error_example(status: int, message: str, param: str | None, code: str | None) -> dict[str, Any]:
    body = OpenAIError(status, message, param=param, code=code).body()
    return {"description": message, "content": {"application/json": {"example": body}}}


CHAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A chat.completion object, or with stream true a text/event-stream of "
                         "chat.completion.chunk events ending with data: [DONE]. Both carry "
                         "the structured references.",
          "content": {"application/json": {"example": COMPLETION_EXAMPLE},
                      "text/event-stream": {"example": STREAM_EXAMPLE}}},
    400: _error_example(400, "Last message must be from user role", "messages", None),
    404: _error_example(404, "The model 'lightrag:nope' does not exist: GET /v1/models lists the "
                             "knowledge bases.", "model", "model_not_found"),
    413: _error_example(413, "Request body too large. This endpoint accepts at most 1048576 "
                             "bytes.", None, "request_too_large"),
    502: _error_example(502, "Provider error: LLM host http://localhost:11434 "
                             "(LLM_BINDING_HOST) refused the request: HTTP 400: ...", None,
                        "llm_error"),
    503: _error_example(503, "Provider error: LLM host http://localhost:11434 "
                             "(LLM_BINDING_HOST) is unreachable: connection refused (3 "
                             "attempts); check that the server is running", None, "llm_error"),
    504: _error_example(504, "Provider error: Embedding host http://localhost:11434 "
                             "(EMBEDDING_BINDING_HOST) did not answer within 30 s (ReadTimeout); "
                             "check the server or raise EMBEDDING_TIMEOUT", None, "llm_error"),
}
CHAT_BODY = _request_body(ChatCompletionRequest, {
    "A question": {"model": "lightrag:latest",
                   "messages": [{"role": "user", "content": "Who founded Acme Corp?"}]},
    "Local mode with a user prompt, streamed": {
        "model": "lightrag:latest", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "/local[answer in one line] Who is Alice?"}]},
    "Continue an answer": {"model": "lightrag:latest", "messages": [
        {"role": "user", "content": "Who founded Acme Corp?"},
        {"role": "assistant", "content": "Alice Smith founded"}]},
})
EMBEDDING_BODY = _request_body(EmbeddingRequest, {
    "Two texts": {"model": "lightrag:latest", "input": ["Acme Corp", "Alice Smith"]},
})
EMBEDDING_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "One vector per input, in order (base64 float32 when asked).",
          "content": {"application/json": {"example": {
              "object": "list", "model": "bge-m3:latest",
              "data": [{"object": "embedding", "index": 0, "embedding": [0.0123, -0.0456]}],
              "usage": {"prompt_tokens": 2, "total_tokens": 2}}}}},
    400: _error_example(400, "input holds token ids: this server embeds text only; send a string "
                             "or a list of strings.", "input", "unsupported_value"),
}


# ------------------------------------------------------------------------------ models


def model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": OWNER}


def _no_model(model: str) -> OpenAIError:
    return OpenAIError(404, f"The model '{model}' does not exist: GET /v1/models lists the "
                            "knowledge bases.", param="model", code="model_not_found")


@router.get("/v1/models", summary="List the knowledge bases as models",
            responses={200: {"description": "One model per knowledge base.",
                             "content": {"application/json": {"example": MODEL_LIST}}}})
@router.get("/api/v1/models", include_in_schema=False)
async def models(engine: EngineDep, settings: SettingsDep, default: WorkspaceNameDep,
                 caller: PrincipalDep) -> dict[str, Any]:
    """``lightrag:latest`` (the LIGHTRAG-WORKSPACE header's workspace) and every other stored
    workspace the caller may use as ``lightrag:<workspace>``."""
    found = deps.visible_models(engine, settings, default, caller)
    return {"object": "list", "data": [model_object(m.name) for m in found]}


@router.get("/v1/models/{model}", summary="Describe one knowledge base model",
            responses={404: _error_example(404, "The model 'lightrag:nope' does not exist: GET "
                                                "/v1/models lists the knowledge bases.",
                                           "model", "model_not_found")})
@router.get("/api/v1/models/{model}", include_in_schema=False)
async def model_info(model: str, engine: EngineDep, settings: SettingsDep,
                     default: WorkspaceNameDep, caller: PrincipalDep) -> dict[str, Any]:
    """The model object of ``model``; 404 ``model_not_found`` when no knowledge base has it."""
    for found in deps.visible_models(engine, settings, default, caller):
        if found.name == model:
            return model_object(found.name)
    raise _no_model(model)


# -------------------------------------------------------------------------------- chat


def _messages(body: ChatCompletionRequest) -> list[ChatMessage]:
    messages = []
    for i, message in enumerate(body.messages):
        try:
            messages.append(ChatMessage.from_wire(message.role, message.content))
        except ChatRequestError as exc:
            reason = exc.message.removeprefix("Invalid request body: ")
            raise OpenAIError(400, f"Invalid messages[{i}].content: {reason}",
                              param=f"messages[{i}].content") from exc
    return messages


def _usage(prompt_tokens: int, text: str) -> dict[str, int]:
    completion_tokens = count_tokens(text)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _deltas(answer: ChatAnswer) -> AsyncIterator[str]:
    if answer.chunks is None:
        if answer.text:
            yield answer.text
        return
    async for delta in answer.chunks:
        if delta:
            yield delta


class _Completion:
    """One answer as OpenAI's chat.completion object or chat.completion.chunk events."""

    def __init__(self, model: str, answer: ChatAnswer) -> None:
        self.answer = answer
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def whole(self, text: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": text, "refusal": None}
        return {**self._head("chat.completion"),
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "stop"}],
                "usage": _usage(self.answer.prompt_tokens, text),
                "references": self.answer.references}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None,
               **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**self._head("chat.completion.chunk"), "choices": [choice], **extra})

    async def events(self, include_usage: bool) -> AsyncIterator[str]:
        """Role chunk, content chunks, the stop chunk with the references, [usage], [DONE]."""
        usage: dict[str, Any] = {"usage": None} if include_usage else {}
        yield self._chunk({"role": "assistant", "content": ""}, **usage)
        parts: list[str] = []
        try:
            async for delta in _deltas(self.answer):
                parts.append(delta)
                yield self._chunk({"content": delta}, **usage)
        except LLMError as exc:
            logger.warning("chat stream failed: %s", exc)
            failure = errors.provider_error(exc)
            yield _sse(OpenAIError(failure.status_code, failure.detail, code=failure.code).body())
            yield "data: [DONE]\n\n"
            return
        yield self._chunk({}, "stop", references=self.answer.references, **usage)
        if include_usage:
            yield _sse({**self._head("chat.completion.chunk"), "choices": [],
                        "usage": _usage(self.answer.prompt_tokens, "".join(parts))})
        yield "data: [DONE]\n\n"


def workspace_of(model: str, engine: Engine, settings: Settings, default: str,
                  caller: Principal) -> str:
    try:
        return deps.model_workspace(model, engine, settings, default, caller)
    except ChatRequestError as exc:
        raise _no_model(model) from exc


@router.post("/v1/chat/completions", summary="Chat with a knowledge base (OpenAI format)",
             responses=CHAT_RESPONSES, openapi_extra=CHAT_BODY)
@router.post("/api/v1/chat/completions", include_in_schema=False)
async def chat_completions(request: Request, engine: EngineDep, settings: SettingsDep,
                           default: WorkspaceNameDep, caller: PrincipalDep) -> Response:
    """Answer the last user message from the knowledge base that ``model`` names.

    The message may start with a mode prefix (``/local``, ``/global``, ``/naive``,
    ``/hybrid``, ``/mix``, ``/bypass``, ``/context``, ``/localcontext``, ...) or the bracket
    form ``/local[user prompt] question``. Earlier messages are the history; system and
    developer messages reach the LLM in ``/bypass`` and task prompts only. When the last
    message is the assistant's, its answer is continued.

    **References**: the answer text keeps its ``### References`` list, and the files are
    also given structured, as a top-level ``references`` array of the completion (OpenAI
    SDKs keep unknown fields: ``completion.model_extra["references"]`` in Python) and, when
    streaming, of the final chunk (the one with ``finish_reason: "stop"``). Each reference
    is ``{reference_id, file_path}``, plus ``pages``, ``slides`` or ``sheets`` when known.

    ``stream_options.include_usage`` adds a last chunk with ``usage`` and no choices.
    Parameters this server cannot honour (temperature, max_tokens, tools, ...) are ignored;
    ``n`` must be 1.
    """
    body, plan = await read_chat(request, settings, ChatCompletionRequest)
    name = workspace_of(body.model, engine, settings, default, caller)
    return await answer_chat(body, plan, await engine.workspace(name))


ChatT = TypeVar("ChatT", bound=ChatCompletionRequest)


async def read_chat(request: Request, settings: Settings,
                    model: type[ChatT]) -> tuple[ChatT, ChatPlan]:
    """The chat request's body, and the plan of its answer; 400 or 413 in OpenAI's shape."""
    body = _parse(model, await _read_json(request, settings))
    if body.n is not None and body.n != 1:
        raise OpenAIError(400, f"n={body.n} is not supported: this server returns exactly one "
                               "choice; set n to 1 or leave it out.", param="n",
                          code="unsupported_value")
    return body, plan_chat(_messages(body), system=None, stream=body.stream)


async def answer_chat(body: ChatCompletionRequest, plan: ChatPlan, ws: Workspace, *,
                      doc_ids: tuple[str, ...] = ()) -> Response:
    """The chat.completion, or its SSE stream, answering ``plan`` from ``ws`` (from the
    documents ``doc_ids`` only, when given)."""
    answer = await run_chat(ws, plan, stream=body.stream, doc_ids=doc_ids)
    completion = _Completion(body.model, answer)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(completion.events(include_usage), headers=SSE_HEADERS,
                                 media_type="text/event-stream")
    text = "".join([delta async for delta in _deltas(answer)])
    return JSONResponse(completion.whole(text))


# -------------------------------------------------------------------------- embeddings


def _embedding_texts(value: Any) -> list[str]:
    """``input`` as a list of texts, or a 400 saying what to send instead."""
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise OpenAIError(400, "input must be a non-empty string or a non-empty list of strings.",
                          param="input")
    if any(isinstance(t, list) or (isinstance(t, int) and not isinstance(t, bool)) for t in texts):
        raise OpenAIError(400, "input holds token ids: this server embeds text only; send a "
                               "string or a list of strings.", param="input",
                          code="unsupported_value")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise OpenAIError(400, f"input[{i}] must be a string.", param=f"input[{i}]")
        if not text.strip():
            raise OpenAIError(400, f"input[{i}] is empty: every input needs some text.",
                              param=f"input[{i}]")
    if len(texts) > MAX_EMBEDDING_INPUTS:
        raise OpenAIError(400, f"input has {len(texts)} texts: send at most "
                               f"{MAX_EMBEDDING_INPUTS} per request.", param="input")
    return texts


def _vector(row: np.ndarray, encoding: str) -> list[float] | str:
    import numpy as np
    if encoding == "base64":
        return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode("ascii")
    return [float(x) for x in row]


@router.post("/v1/embeddings", summary="Embed texts with the knowledge base's embedding model",
             responses=EMBEDDING_RESPONSES, openapi_extra=EMBEDDING_BODY)
@router.post("/api/v1/embeddings", include_in_schema=False)
async def embeddings(request: Request, engine: EngineDep, settings: SettingsDep,
                     default: WorkspaceNameDep, caller: PrincipalDep) -> dict[str, Any]:
    """Vectors from the embedding binding of the workspace ``model`` names (EMBEDDING_MODEL).

    ``input`` is a string or a list of strings; token-id arrays are refused (400).
    ``encoding_format`` ``base64`` gives little-endian float32 bytes, as OpenAI does.
    ``dimensions``, when given, must equal EMBEDDING_DIM.
    """
    body = _parse(EmbeddingRequest, await _read_json(request, settings))
    texts = _embedding_texts(body.input)
    name = workspace_of(body.model or "", engine, settings, default, caller)
    ws = await engine.workspace(name)
    if body.dimensions is not None and body.dimensions != ws.embedder.dim:
        raise OpenAIError(400, f"dimensions={body.dimensions} is not available: the embedding "
                               f"model gives {ws.embedder.dim}; leave dimensions out.",
                          param="dimensions", code="unsupported_value")
    rows = await ws.embedder.embed(texts)
    tokens = sum(count_tokens(text) for text in texts)
    return {
        "object": "list",
        "model": ws.embedder.config.model,
        "data": [{"object": "embedding", "index": i, "embedding": _vector(row, body.encoding_format)}
                 for i, row in enumerate(rows)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
