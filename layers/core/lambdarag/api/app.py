"""The FastAPI application factory, shared by uvicorn, Mangum and the tests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lambdarag import __version__
from lambdarag.api.routes import documents, graph, health, ollama, openai_api, query
from lambdarag.config import Settings
from lambdarag.engine import Engine

logger = logging.getLogger(__name__)

DESCRIPTION = """A LightRAG-compatible graph-RAG server: upload documents, then query them in
the modes local, global, hybrid, naive, mix and bypass.

* Every route honours the `LIGHTRAG-WORKSPACE` header (characters outside `[A-Za-z0-9_]`
  become `_`); without it the server's `WORKSPACE` is used.
* Errors are `{"detail": "..."}` saying what to fix. Invalid input is 422 with FastAPI's
  `{"detail": [{loc, msg, type}]}`, except `/query/data`, which answers 400 in its own
  `{"status": "failure", "message": "Validation error: ..."}` shape.
* References, and `/query/data` chunks, carry `pages`, `slides` or `sheets` for PDF, PPTX and
  XLSX files.
"""
TAGS = [
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
]


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``engine`` defaults to one made from ``settings`` at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or Engine(settings)
        resumed = await app.state.engine.start()
        if resumed:
            logger.info("resuming %d unfinished documents", resumed)
        try:
            yield
        finally:
            await app.state.engine.aclose()

    app = FastAPI(title="LambdaRAG", version=__version__, description=DESCRIPTION,
                  openapi_tags=TAGS, lifespan=lifespan)
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(query.router)
    app.include_router(graph.router)
    app.include_router(ollama.router)
    app.include_router(openai_api.router)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Unexpected errors answer 500 with an id to grep the log for; no internals leak."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("error_id=%s %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500, content={"detail": f"Internal server error (error_id: {error_id})"}
    )
