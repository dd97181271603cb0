"""The FastAPI application factory, shared by uvicorn, Mangum and the tests."""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lambdarag import __version__
from lambdarag.api import auth, errors
from lambdarag.api.lazy import LazyRoutes, LazyRoutesMiddleware
from lambdarag.api.middleware import ApiPrefixMiddleware, add_middleware
from lambdarag.config import Settings
from lambdarag.errors import LambdaRAGError

if TYPE_CHECKING:
    from lambdarag.runtime.engine import Engine

logger = logging.getLogger(__name__)

DESCRIPTION = """A LightRAG-compatible graph-RAG server: upload documents, then query them in
the modes local, global, hybrid, naive, mix and bypass.

* Every route honours the `LIGHTRAG-WORKSPACE` header: 1 to 64 characters from
  `[A-Za-z0-9_]`, anything else is 400. Without it the server's `WORKSPACE` is used.
* Authentication (off by default; docs/SECURITY.md): `X-API-Key` when `LIGHTRAG_API_KEY`
  is set, `Authorization: Bearer <token from POST /login>` when `AUTH_ACCOUNTS` is set.
  The chat APIs also take the API key as a Bearer token. `WHITELIST_PATHS` (default
  `/health,/api/*`) needs no credentials. An account limited to some workspaces gets 403
  for the others.
* Errors are `{"detail": "..."}` saying what to fix. Invalid input is 422 with FastAPI's
  `{"detail": [{loc, msg, type}]}`, except `/query/data`, which answers 400 in its own
  `{"status": "failure", "message": "Validation error: ..."}` shape.
* References, and `/query/data` chunks, carry `pages`, `slides` or `sheets` for PDF, PPTX and
  XLSX files.
"""
TAGS = [
    {"name": "auth", "description": "Login, the authentication mode, and a credentials check."},
    {"name": "health", "description": "Liveness, versions and the server configuration."},
    {"name": "documents",
     "description": "Upload, insert, scan, list and delete documents; the indexing pipeline."},
    {"name": "query",
     "description": "Answers as JSON or an NDJSON stream, and retrieval-only structured data."},
    {"name": "graph",
     "description": "Entity names, subgraphs, and manual edits of entities and relations."},
    {"name": "ollama",
     "description": "Ollama-compatible chat, generate and embeddings for Open WebUI and other "
                    "chat front ends. Each workspace is a model: `lightrag:latest` is the "
                    "request's workspace, `lightrag:<workspace>` any other."},
    {"name": "openai",
     "description": "OpenAI-compatible models, chat completions (SSE) and embeddings, also "
                    "under `/api/v1`. Models are workspaces, as on the Ollama API."},
    {"name": "openwebui",
     "description": "Open WebUI's documented API for scripts: `/api/models`, "
                    "`/api/chat/completions` with `files`, file uploads, knowledge collections "
                    "(workspaces) and the Ollama API under `/ollama/api`."},
]


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``engine`` defaults to one made from ``settings`` at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from lambdarag.runtime import build_engine  # imported when serving starts, not at build

        app.state.engine = engine or build_engine(settings)
        resumed = await app.state.engine.start()
        if resumed:
            logger.info("resuming %d unfinished documents", resumed)
        # The server starts whatever the providers' state; the warnings follow shortly.
        probing = asyncio.create_task(_warn_unreachable(app.state.engine))
        try:
            yield
        finally:
            probing.cancel()
            await app.state.engine.aclose()

    # /docs and /redoc come from api_docs (offline assets), not FastAPI's CDN pages.
    app = FastAPI(title="LambdaRAG", version=__version__, description=DESCRIPTION,
                  openapi_tags=TAGS, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.auth = auth.Authenticator(settings)
    if settings.account_workspaces and _exposes_data(settings):
        logger.warning("WHITELIST_PATHS=%s lets anyone read every workspace without logging "
                       "in, whatever AUTH_ACCOUNT_WORKSPACES says; set WHITELIST_PATHS=/health",
                       settings.whitelist_paths)
    # The route families are imported on their first request (api/lazy.py); the auth,
    # docs and web UI pages are open, the UI's so that it can show its login form
    # (docs/SECURITY.md), the others behind the credentials guard.
    routes = LazyRoutes(app, protected=[Depends(auth.guard(settings))])
    openapi = app.openapi

    def complete_openapi() -> dict[str, Any]:
        routes.load_all()
        return openapi()

    app.openapi = complete_openapi  # type: ignore[method-assign]
    add_middleware(app, settings)
    app.add_middleware(LazyRoutesMiddleware, routes=routes)
    if settings.lightrag_api_prefix:  # outermost: every layer below routes without it
        app.add_middleware(ApiPrefixMiddleware, prefix=settings.lightrag_api_prefix)
    app.add_exception_handler(auth.ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LambdaRAGError, _engine_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _warn_unreachable(engine: Engine) -> None:
    """One warning line per provider whose host does not answer."""
    try:
        for line in await engine.unreachable_providers():
            logger.warning("%s", line)
    except Exception:  # noqa: BLE001 - a probe must never stop the server
        logger.exception("checking the providers failed")


def _exposes_data(settings: Settings) -> bool:
    return any(auth.whitelisted(path, settings.whitelist)
               for path in ("/api/chat", "/v1/chat/completions", "/query", "/documents/text"))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    """``{"detail": ...}``; the Ollama routes also get ``"error"``, which their clients read."""
    error = cast(auth.ApiError, exc)
    body = {"detail": error.detail}
    if auth.is_chat_path(auth.route_path(request.scope)):
        body["error"] = error.detail
    return JSONResponse(body, status_code=error.status_code, headers=error.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, with the echoed input made JSON-safe.

    A number such as ``1e999`` parses as infinity, which JSON cannot carry: FastAPI's own
    handler would fail writing it back and answer 500.
    """
    errors = jsonable_encoder(cast(RequestValidationError, exc).errors())
    return JSONResponse(status_code=422, content={"detail": _json_safe(errors)})


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


async def _engine_error(request: Request, exc: Exception) -> JSONResponse:
    """Every engine error, answered as ``lambdarag.api.errors.api_error`` maps it."""
    error = errors.api_error(cast(LambdaRAGError, exc))
    if error is None:
        return await _internal_error(request, exc)
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return await _api_error(request, error)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Unexpected errors answer 500 with an id to grep the log for; no internals leak."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("error_id=%s %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500, content={"detail": f"Internal server error (error_id: {error_id})"}
    )
