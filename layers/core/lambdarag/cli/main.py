"""The ``lambdarag`` command: serve, index files, ask questions."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdarag.config import Settings, SettingsError, load_settings
from lambdarag.errors import LambdaRAGError, exit_code
from lambdarag.query.param import MODES

if TYPE_CHECKING:
    from lambdarag.documents.lifecycle import EnqueueResult
    from lambdarag.workspace.workspace import Workspace


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdarag", description="LightRAG-compatible graph-RAG server")
    parser.add_argument("--working-dir", help="storage directory (WORKING_DIR)")
    parser.add_argument("--workspace", help="workspace name (WORKSPACE)")
    parser.add_argument("--llm-binding", help="LLM_BINDING")
    parser.add_argument("--llm-model", help="LLM_MODEL")
    parser.add_argument("--llm-binding-host", help="LLM_BINDING_HOST")
    parser.add_argument("--embedding-binding", help="EMBEDDING_BINDING")
    parser.add_argument("--embedding-model", help="EMBEDDING_MODEL")
    parser.add_argument("--embedding-dim", type=int, help="EMBEDDING_DIM")
    parser.add_argument("--embedding-binding-host", help="EMBEDDING_BINDING_HOST")
    parser.add_argument("--log-level", help="LOG_LEVEL")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server (default :9621)")
    serve.add_argument("--host", help="HOST")
    serve.add_argument("--port", type=int, help="PORT")
    serve.add_argument("--input-dir", help="INPUT_DIR")
    index = commands.add_parser("index", help="index files and wait until they are processed")
    index.add_argument("files", nargs="+", type=Path)
    index.add_argument("--input-dir", help="INPUT_DIR, where the files are stored as uploads are")
    init = commands.add_parser(
        "init-stores", help="create the storage resources (tables, indexes) ahead of use")
    init.add_argument("workspaces", nargs="*", metavar="WORKSPACE",
                      help="workspaces whose resources to create (default: WORKSPACE)")
    ask = commands.add_parser("query", help="answer a question from the knowledge base")
    ask.add_argument("text")
    ask.add_argument("--mode", choices=MODES, default="mix")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"command", "files", "text", "mode", "workspaces"}
    return {k: v for k, v in vars(args).items() if k not in skip and v is not None}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(**_overrides(args))
    except SettingsError as exc:
        sys.stderr.write(f"lambdarag: invalid setting: {exc}\n")
        return exit_code(exc)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(settings)
    try:
        if args.command == "index":
            return asyncio.run(_index(settings, args.files))
        if args.command == "init-stores":
            return asyncio.run(_init_stores(settings, args.workspaces))
        return asyncio.run(_query(settings, args.text, args.mode))
    except LambdaRAGError as exc:  # the engine's own errors: one line, the model's exit code
        sys.stderr.write(f"lambdarag: {exc}\n")
        return exit_code(exc)


def _serve(settings: Settings) -> int:
    import uvicorn

    from lambdarag.api.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower())
    return 0


async def _index(settings: Settings, files: list[Path]) -> int:
    """Store each file as an upload does, index them, and print one line per file."""
    from lambdarag.documents import lifecycle as documents
    from lambdarag.runtime import build_engine
    from lambdarag.utils import new_track_id

    engine = build_engine(settings)
    try:
        ws = await engine.workspace()
        folder = documents.input_folder(settings.input_dir, ws.name)
        batch, refused = [], 0
        for path in files:
            try:
                # No size limit: MAX_UPLOAD_SIZE protects the server from its clients.
                batch.append(await documents.store_file(ws, folder, path.name, _pieces(path), 0))
            except documents.SourceExistsError as exc:
                sys.stdout.write(f"{path.name}: already stored ({exc})\n")
            except (OSError, documents.DocumentRequestError) as exc:
                sys.stderr.write(f"lambdarag: skipping {path}: {exc}\n")
                refused += 1
        result = await documents.enqueue(ws, batch, new_track_id("upload"))
        await engine.start()
        await engine.runner.submit(ws.name, result.doc_ids)
        await engine.runner.wait_idle()
        return 1 if refused or await _report(ws, result) else 0
    finally:
        await engine.aclose()


async def _init_stores(settings: Settings, names: list[str]) -> int:
    """Create each workspace's tables and indexes (a deploy step: no Lambda races for them)."""
    from lambdarag.runtime import build_engine

    backends = ", ".join(f"{kind} {backend}" for kind, backend in settings.storage_backends.items())
    engine = build_engine(settings)
    try:
        for name in names or [settings.workspace]:
            ws = await engine.workspace(name)
            checked = await ws.stores.ensure()
            sys.stdout.write(f"workspace {name!r}: {len(checked)} stores ready ({backends})\n")
        return 0
    finally:
        await engine.aclose()


async def _pieces(path: Path) -> AsyncIterator[bytes]:
    from lambdarag.documents.lifecycle import PIECE

    with path.open("rb") as source:
        while piece := await asyncio.to_thread(source.read, PIECE):
            yield piece


async def _report(ws: Workspace, result: EnqueueResult) -> int:
    """Print each document's outcome; returns how many did not end PROCESSED."""
    failed = 0
    for record in await ws.stores.doc_status.get_many(result.doc_ids):
        status = (record or {}).get("status", "missing")
        failed += status != "processed"
        sys.stdout.write(f"{(record or {}).get('file_path')}: {status} {(record or {}).get('error_msg') or ''}\n")
    for dup in result.duplicates:
        sys.stdout.write(f"{dup['file_path']}: duplicate ({dup['error_msg']})\n")
    return failed


async def _query(settings: Settings, text: str, mode: str) -> int:
    from lambdarag.query.answer import aquery
    from lambdarag.query.param import QueryParam
    from lambdarag.runtime import build_engine

    engine = build_engine(settings)
    try:
        result = await aquery(await engine.workspace(), text, QueryParam(mode=mode))  # type: ignore[arg-type]
        sys.stdout.write((result.response or "") + "\n")
        return 0
    finally:
        await engine.aclose()


if __name__ == "__main__":
    raise SystemExit(main())
