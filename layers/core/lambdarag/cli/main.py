"""The ``lambdarag`` command: serve, index files, follow and retry them, ask questions.

``lightrag-server`` is ``lambdarag serve``, for scripts and units written for LightRAG.
The settings are the server's: options, then the environment, then ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from lambdarag.cli import options
from lambdarag.config import Settings, SettingsError, load_settings
from lambdarag.errors import LambdaRAGError, exit_code
from lambdarag.query.param import MODES

DESCRIPTION = "LightRAG-compatible graph-RAG server"
QUIET_LOGGERS = ("httpx", "httpcore")  # one line per provider request: --verbose shows them


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lambdarag", description=DESCRIPTION)
    options.add_options(parser, None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        options.add_options(sub, name)
        return sub

    command("serve", "run the HTTP server (default :9621)")
    index = command("index", "index files and wait until they are processed; a file whose "
                    "document failed is indexed again")
    index.add_argument("files", nargs="+", type=Path)
    status = command("status", "show documents and their status (default: every document)")
    status.add_argument("names", nargs="*", metavar="FILE_OR_ID")
    retry = command("retry", "index failed documents again and wait (default: every failed or "
                    "interrupted document, as POST /documents/reprocess_failed)")
    retry.add_argument("names", nargs="*", metavar="FILE_OR_ID")
    delete = command("delete", "delete documents, and the entities and relations only they "
                     "support")
    delete.add_argument("names", nargs="+", metavar="FILE_OR_ID")
    delete.add_argument("--keep-file", action="store_true",
                        help="keep each document's file in the input directory (by default it "
                        "goes too, so that indexing the file again starts afresh)")
    init = command("init-stores", "create the storage resources (tables, indexes) ahead of use")
    init.add_argument("workspaces", nargs="*", metavar="WORKSPACE",
                      help="workspaces whose resources to create (default: WORKSPACE)")
    ask = command("query", "answer a question from the knowledge base")
    ask.add_argument("text")
    ask.add_argument("--mode", choices=MODES, default="mix")
    return parser


def main(argv: list[str] | None = None) -> int:
    return _run_command(_parser().parse_args(argv))


def serve_main(argv: list[str] | None = None) -> int:
    """``lightrag-server [options]``: ``lambdarag serve [options]`` under LightRAG's name."""
    parser = argparse.ArgumentParser(
        prog="lightrag-server", description=f"{DESCRIPTION} (lambdarag serve)")
    options.add_options(parser, "serve")
    args = parser.parse_args(argv)
    args.command = "serve"
    return _run_command(args)


def _run_command(args: argparse.Namespace) -> int:
    for flag in options.drop_inapplicable(args, args.command):
        note(f"{flag} does not apply to {args.command}; ignored")
    try:
        settings = load_settings(**options.overrides(args))
    except SettingsError as exc:
        sys.stderr.write(f"lambdarag: invalid setting: {exc}\n")
        return exit_code(exc)
    _logging(settings)
    for line in family_notes(settings):
        note(line)
    if args.command == "serve":
        from lambdarag.cli.serve import serve

        return serve(settings)
    return asyncio.run(_run(args, settings))


def note(line: str) -> None:
    """One line on stderr about a setting that does not apply as given."""
    sys.stderr.write(f"lambdarag: {line}\n")


def _logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.verbose:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def family_notes(settings: Settings) -> list[str]:
    """Binding options given for a binding that is not the one in use."""
    active = {"LLM_BINDING": settings.llm_binding, "EMBEDDING_BINDING": settings.embedding_binding}
    lines = []
    for family, values in settings.cli_binding_options.items():
        variable, bindings = options.FAMILY_BINDING[family]
        if active[variable] not in bindings:
            flags = ", ".join(options.family_flag(family, name) for name in values)
            lines.append(f"{flags}: for {variable}={' or '.join(bindings)}, and "
                         f"{variable} is {active[variable]}; ignored")
    return lines


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from lambdarag.cli import documents

    try:
        if args.command == "index":
            return await documents.index(settings, args.files)
        if args.command == "status":
            return await documents.status(settings, args.names)
        if args.command == "retry":
            return await documents.retry(settings, args.names)
        if args.command == "delete":
            return await documents.delete(settings, args.names, keep_file=args.keep_file)
        if args.command == "init-stores":
            return await _init_stores(settings, args.workspaces)
        return await _query(settings, args.text, args.mode)
    except LambdaRAGError as exc:  # the engine's own errors: one line, the model's exit code
        sys.stderr.write(f"lambdarag: {exc}\n")
        return exit_code(exc)


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


async def _query(settings: Settings, text: str, mode: str) -> int:
    """Answer as ``POST /query`` does, refusing what it refuses with its message."""
    from pydantic import ValidationError

    from lambdarag.api.schemas import QueryRequest
    from lambdarag.query.answer import aquery
    from lambdarag.runtime import build_engine

    try:
        request = QueryRequest(query=text, mode=mode)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            sys.stderr.write(f"lambdarag: query: {error['msg'].removeprefix('Value error, ')}\n")
        return 2
    engine = build_engine(settings)
    try:
        result = await aquery(await engine.workspace(), request.query, request.to_param(stream=False))
        sys.stdout.write((result.response or "") + "\n")
        return 0
    finally:
        await engine.aclose()


if __name__ == "__main__":
    raise SystemExit(main())
