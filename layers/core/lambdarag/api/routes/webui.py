"""The web UI: the built bundle under ``/webui/``, ``/`` redirecting there, and LightRAG's
``/ui/customization`` (docs/WEBUI.md).

The bundle (``lambdarag/webui/``, built from ``webui/`` by ``scripts/build-webui``) ships in
the package, so serving it needs no Node. Every URL it uses is relative, and so are the
redirects here, so a gateway stage (``/prod``) or an API prefix needs no setting. These
routes need no credentials: the page must load to show its login form; it holds no data.

Hashed files under ``assets/`` are cached for a year (their names change with their
content); ``index.html`` is revalidated on every load. Text files are gzipped once per
process when the client accepts it.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from lambdarag.config import Settings

router = APIRouter(include_in_schema=False)

WEBUI_DIR = Path(__file__).resolve().parents[2] / "webui"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
MIN_GZIP_BYTES = 1024
# LightRAG 1.5.7's answer when no UI_TEMPLATES_DIR bundle is configured.
DEFAULT_TITLE, DEFAULT_DESCRIPTION = "LightRAG", "Simple and Fast RAG"
# The app loads only its own files; ForceAtlas2 runs in a worker made from a blob; the API
# tab frames /docs; inline style attributes colour the legend. No other origin, no eval.
CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
       "frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")
TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".woff2": "font/woff2",
         ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8"}


def available(folder: Path = WEBUI_DIR) -> bool:
    """Whether the built bundle is installed (``/health``'s ``webui_available``)."""
    return (folder / INDEX).is_file()


def media_type(path: Path) -> str:
    return TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or (
        "application/octet-stream")


def resolve(relative: str, folder: Path = WEBUI_DIR) -> Path | None:
    """The file of the bundle that ``relative`` names, or None (also for any way out of it)."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p or ":" in p for p in parts):
        return None
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        return None
    return path


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int, size: int, compress: bool) -> tuple[bytes, str]:
    """A file's bytes (gzipped when asked) and its ETag, cached per version of the file."""
    data = path.read_bytes()
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + ('-gz"' if compress else '"')
    if compress:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return data, etag


def file_response(request: Request, path: Path, cache_control: str,
                  body: bytes | None = None, csp: str | None = None) -> Response:
    kind = media_type(path)
    stat = path.stat()
    wants_gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    compress = (body is None and wants_gzip and stat.st_size >= MIN_GZIP_BYTES
                and kind.startswith(COMPRESSIBLE))
    if body is None:
        body, etag = _read(path, stat.st_mtime_ns, stat.st_size, compress)
    else:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding",
               "X-Content-Type-Options": "nosniff"}
    if csp:
        headers["Content-Security-Policy"] = csp
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if compress:
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=kind, headers=headers)


def _index(request: Request, depth: int) -> Response:
    """``index.html``; below a sub-path a ``<base>`` keeps its relative URLs pointing here."""
    path = WEBUI_DIR / INDEX
    if not path.is_file():
        raise HTTPException(404, "The web UI is not built: run scripts/build-webui")
    if not depth:
        return file_response(request, path, REVALIDATE, csp=CSP)
    html = path.read_text(encoding="utf-8").replace(
        "<head>", f'<head><base href="{"../" * depth}">', 1)
    return file_response(request, path, REVALIDATE, body=html.encode(), csp=CSP)


@router.api_route("/", methods=["GET", "HEAD"])
async def root() -> RedirectResponse:
    """To the web UI (or the API docs without it), relative so a stage path is kept."""
    return RedirectResponse("webui/" if available() else "docs", status_code=307)


@router.api_route("/webui", methods=["GET", "HEAD"])
async def webui_without_slash() -> RedirectResponse:
    return RedirectResponse("webui/", status_code=307)


@router.api_route("/webui/{relative:path}", methods=["GET", "HEAD"])
async def webui(request: Request, relative: str) -> Response:
    """A file of the bundle; any other path without a file extension is the app itself
    (it routes in the URL fragment), a missing file is 404."""
    if not relative or relative == INDEX:
        return _index(request, 0)
    path = resolve(relative)
    if path is not None:
        hashed = relative.startswith("assets/")
        return file_response(request, path, IMMUTABLE if hashed else REVALIDATE)
    last = relative.rsplit("/", 1)[-1]
    if "." in last or ".." in relative.split("/") or "\\" in relative or "\x00" in relative:
        raise HTTPException(404, f"No such file in the web UI: {relative[:200]}")
    return _index(request, relative.count("/"))  # "graph/x" and "graph/" are one level down


@router.get("/ui/customization")
async def ui_customization(
    request: Request,
    locale: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    """LightRAG 1.5.7's branding call, answered as it does without a customization
    bundle (its own web UI, dropped in, makes this call on every load)."""
    # The settings straight from the app: api.deps would import the whole engine, which
    # serving static files does not need (cold start).
    settings: Settings = request.app.state.settings
    return {"customized": False,
            "brand": {"title": settings.webui_title or DEFAULT_TITLE,
                      "description": settings.webui_description or DEFAULT_DESCRIPTION}}
