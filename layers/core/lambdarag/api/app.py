"""The FastAPI application factory, shared by uvicorn, Mangum and the tests."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lambdarag import __version__
from lambdarag.api.routes import documents, graph, health, query
from lambdarag.config import Settings
from lambdarag.engine import Engine

logger = logging.getLogger(__name__)

DESCRIPTION = (
    "A LightRAG-compatible graph-RAG server: upload documents, query them in the modes "
    "local, global, hybrid, naive, mix and bypass."
)


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

    app = FastAPI(title="LambdaRAG", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(query.router)
    app.include_router(graph.router)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Unexpected errors answer 500 with an id to grep the log for; no internals leak."""
    error_id = uuid.uuid4().hex[:12]
    logger.error("error_id=%s %s %s", error_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500, content={"detail": f"Internal server error (error_id: {error_id})"}
    )
