"""ASGI middleware: the API prefix, request body limits, the ``X-New-Token`` header, CORS."""

from __future__ import annotations

import json

from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambdarag.api.auth import NEW_TOKEN_HEADER, is_chat_path, route_path
from lambdarag.config import Settings

MIB = 1024 * 1024
TEXT_ROUTES_LIMIT = 50 * MIB  # /documents/text(s) unless MAX_REQUEST_BODY_BYTES is set
MULTIPART_SLACK = MIB  # multipart headers and boundaries around an upload
TEXT_ROUTES = ("/documents/text", "/documents/texts")
UPLOAD_ROUTES = ("/documents/upload", "/api/v1/files", "/api/v1/files/")  # + Open WebUI's


def too_large_message(limit: int) -> str:
    return f"Request body too large. This endpoint accepts at most {limit} bytes."


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit; FastAPI answers it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def body_limit(path: str, settings: Settings) -> int | None:
    """The most bytes a request body to ``path`` may have (None: no limit here).

    MAX_REQUEST_BODY_BYTES (1 MiB) for ordinary routes, 0 disabling every limit;
    /documents/text(s) 50 MiB unless that setting is given; /documents/upload
    MAX_UPLOAD_SIZE plus 1 MiB of multipart framing. The chat APIs read their bodies
    themselves with MAX_REQUEST_BODY_BYTES and answer 413 in their own error shapes, so
    they are left to do it.
    """
    base = settings.max_request_body_bytes
    if base and path in UPLOAD_ROUTES:
        upload = settings.max_upload_size
        return upload + MULTIPART_SLACK if upload else None
    if not base or is_chat_path(path):
        return None
    if path in TEXT_ROUTES and "max_request_body_bytes" not in settings.model_fields_set:
        return TEXT_ROUTES_LIMIT
    return base


class BodyLimitMiddleware:
    """413 for a body over :func:`body_limit`: at once when Content-Length says so, else
    as soon as the streamed bytes pass it (chunked uploads cannot slip through)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit(route_path(scope), self.settings) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _reject(send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _reject(send, limit)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large_message(limit)}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class ApiPrefixMiddleware:
    """LIGHTRAG_API_PREFIX as the ASGI ``root_path``, as LightRAG serves it.

    ``/site01/query`` is routed as ``/query``; so is ``/query`` itself, for a proxy that
    strips the prefix. The OpenAPI document names the prefix as its server, and the web
    UI, whose URLs are all relative, works under it. A root path the server was given
    already (uvicorn's ``--root-path``) stays in front.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "root_path": scope.get("root_path", "").rstrip("/") + self.prefix}
        await self.app(scope, receive, send)


class NewTokenMiddleware:
    """Adds ``X-New-Token`` when the auth guard renewed the caller's token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start":
                token = scope.get("state", {}).get("new_token")
                if token:
                    headers = list(message.get("headers", []))
                    headers.append((NEW_TOKEN_HEADER.lower().encode(), token.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_token)


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """Body limits innermost, then token renewal, then CORS outermost (so every answer,
    413s included, carries the CORS headers)."""
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(NewTokenMiddleware)
    origins = settings.cors_origin_list or ["*"]
    app.add_middleware(
        CORSMiddleware, allow_origins=origins, allow_credentials="*" not in origins,
        allow_methods=["*"], allow_headers=["*"], expose_headers=[NEW_TOKEN_HEADER],
    )
