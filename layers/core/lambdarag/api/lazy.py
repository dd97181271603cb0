"""Route families imported on their first request, so that a cold start builds only the app.

Importing a route module builds its pydantic models and FastAPI's analysis of each of its
routes: about 0.2 s for all of them together, most of what a cold API Lambda spends after
importing FastAPI. Each family is named here with the path prefixes it serves. The first
request under one of them imports the family and adds its routes to the app before routing
happens (:class:`LazyRoutesMiddleware`), and the OpenAPI document loads them all first. A chat
client's first request so never pays for the document routes, nor a health check for chat.

The prefixes must cover every path of the family's router: ``tests/unit/
test_lazy_routes.py`` checks that against the routers themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from lambdarag.api.auth import route_path

if TYPE_CHECKING:
    from fastapi import FastAPI


@dataclass(frozen=True)
class Family:
    module: str  # under lambdarag.api.routes; its ``router`` is included
    prefixes: tuple[str, ...]  # a path is the prefix itself or below it ("/" is exact)
    protected: bool  # behind the credentials guard


FAMILIES = (
    # Open without credentials: the UI page must load to show its login form.
    Family("auth", ("/login", "/auth-status", "/auth"), protected=False),
    Family("api_docs", ("/docs", "/redoc", "/docs-assets"), protected=False),
    Family("webui", ("/", "/webui", "/ui"), protected=False),
    Family("health", ("/health",), protected=True),
    Family("documents", ("/documents",), protected=True),
    Family("query", ("/query",), protected=True),
    # and LightRAG 1.4's /documents/delete_entity and /documents/delete_relation
    Family("graph", ("/graph", "/graphs", "/documents/delete_entity",
                     "/documents/delete_relation"), protected=True),
    Family("ollama", ("/api",), protected=True),
    Family("openai_api", ("/v1", "/api/v1"), protected=True),
    Family("openwebui", ("/api/models", "/api/chat/completions", "/api/v1/files",
                         "/api/v1/knowledge", "/ollama"), protected=True),
)


def serves(prefix: str, path: str) -> bool:
    if prefix == "/":
        return path == "/"
    return path == prefix or path.startswith(prefix + "/")


class LazyRoutes:
    """Includes each family's router into ``app`` when a request first needs it."""

    def __init__(self, app: FastAPI, protected: Sequence[Any],
                 families: Sequence[Family] = FAMILIES) -> None:
        self.app = app
        self.protected = list(protected)
        self.pending = list(families)

    def load_for(self, path: str) -> None:
        """Include every pending family that serves ``path`` (synchronous: no request sees half)."""
        for family in [f for f in self.pending if any(serves(p, path) for p in f.prefixes)]:
            self._include(family)

    def load_all(self) -> None:
        for family in list(self.pending):
            self._include(family)

    def _include(self, family: Family) -> None:
        module = importlib.import_module(f"lambdarag.api.routes.{family.module}")
        dependencies = self.protected if family.protected else None
        self.app.include_router(module.router, dependencies=dependencies)
        self.pending.remove(family)


class LazyRoutesMiddleware:
    """Outermost ASGI layer: loads the families a request's path needs, then passes it on."""

    def __init__(self, app: ASGIApp, routes: LazyRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.routes.pending and scope["type"] in ("http", "websocket"):
            self.routes.load_for(route_path(scope))
        await self.app(scope, receive, send)
