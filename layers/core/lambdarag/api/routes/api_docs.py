"""``/docs`` (Swagger UI) and ``/redoc``, served offline.

FastAPI's own pages pull their JavaScript and CSS from a CDN, so without internet they are
blank. These serve the same pages with the assets of the pinned ``fastapi-offline`` wheel
(Swagger UI 5, ReDoc 2), under ``/docs-assets/``. All URLs are relative, as in the web UI.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response

from lambdarag.api.routes.webui import file_response, resolve

router = APIRouter(include_in_schema=False)

TITLE = "LambdaRAG API"
ASSETS = "docs-assets"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


@cache
def assets_dir() -> Path:
    """The wheel's static folder, found without importing it."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise HTTPException(404, "The API docs assets are not installed (fastapi-offline)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="openapi.json", title=TITLE,
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        oauth2_redirect_url="docs/oauth2-redirect",
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(openapi_url="openapi.json", title=TITLE,
                          redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                          redoc_favicon_url=f"{ASSETS}/favicon.png", with_google_fonts=False)


@router.get(f"/{ASSETS}/{{name}}")
async def asset(request: Request, name: str) -> Response:
    path = resolve(name, assets_dir()) if name in FILES else None
    if path is None:
        raise HTTPException(404, f"No such API docs asset: {name[:100]}")
    # The names carry no hash, but they change only with the pinned wheel.
    return file_response(request, path, "public, max-age=86400")

