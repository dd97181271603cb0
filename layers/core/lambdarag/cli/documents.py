"""The document commands: ``index``, ``status``, ``retry`` and ``delete``.

Each does what the matching route does (``/documents/upload``, ``/documents/paginated``,
``/documents/reprocess_failed``, ``/documents/delete_document``), in this process, on the
same stores. A document is named by its file (the canonical basename, so ``docs/a.md`` and
``a.md`` are one) or by its id. ``index`` and ``retry`` wait until indexing is done and exit
0 only when every named document ended processed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lambdarag.config import Settings

if TYPE_CHECKING:
    from lambdarag.runtime.engine import Engine
    from lambdarag.storage.base import DocStatusRecord
    from lambdarag.workspace.workspace import Workspace

LISTING_PAGE = 200


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(f"lambdarag: {line}\n")


def _line(record: DocStatusRecord) -> str:
    error = record.get("error_msg")
    return f"{record.get('file_path')}: {record['status']} ({record['id']})" + (
        f": {error}" if error else "")


async def _engine(settings: Settings) -> Engine:
    from lambdarag.runtime import build_engine

    return build_engine(settings)


async def index(settings: Settings, files: list[Path]) -> int:
    """Store each file as an upload does and index them; one line per file.

    A file whose document FAILED replaces it (a retry); one stored already in another
    state is reported with that state, and counts as done only when processed.
    """
    from lambdarag.documents import lifecycle as documents
    from lambdarag.utils import new_track_id

    engine = await _engine(settings)
    try:
        ws = await engine.workspace()
        folder = documents.input_folder(settings.input_dir, ws.name)
        batch, stored, refused = [], [], 0
        for path in files:
            try:
                # No size limit: MAX_UPLOAD_SIZE protects the server from its clients.
                batch.append(await documents.store_file(ws, folder, path.name, _pieces(path), 0))
            except documents.SourceExistsError as exc:
                _out(f"{path.name}: already stored ({exc})")
                found = await ws.stores.doc_status.by_file_path(
                    documents.canonical_basename(path.name))
                stored += [r["id"] for r in found]
                refused += not found  # a file waiting in the input directory, not a document
            except (OSError, documents.DocumentRequestError) as exc:
                _err(f"skipping {path}: {exc}")
                refused += 1
        result = await documents.enqueue(ws, batch, new_track_id("upload"))
        await _index_and_wait(engine, ws, result.doc_ids)
        for dup in result.duplicates:
            _out(f"{dup['file_path']}: duplicate ({dup['error_msg']})")
        unfinished = await _report(ws, result.doc_ids, quiet=stored)
        return 1 if refused or unfinished or result.duplicates else 0
    finally:
        await engine.aclose()


async def _pieces(path: Path) -> AsyncIterator[bytes]:
    from lambdarag.documents.lifecycle import PIECE

    with path.open("rb") as source:
        while piece := await asyncio.to_thread(source.read, PIECE):
            yield piece


async def _index_and_wait(engine: Engine, ws: Workspace, doc_ids: list[str]) -> None:
    await engine.start()
    if doc_ids:
        await engine.runner.submit(ws.name, doc_ids)
    await engine.runner.wait_idle()


async def _report(ws: Workspace, doc_ids: Sequence[str], quiet: Sequence[str] = ()) -> int:
    """Print each document's outcome (``quiet`` ones are only counted); returns how many
    did not end processed."""
    unfinished = 0
    for doc_id, record in zip([*doc_ids, *quiet],
                              await ws.stores.doc_status.get_many([*doc_ids, *quiet]), strict=True):
        if record is None:
            _out(f"{doc_id}: missing")
            unfinished += 1
            continue
        unfinished += record["status"] != "processed"
        if doc_id not in quiet:
            _out(_line(record))
    return unfinished


async def _resolve(ws: Workspace, names: Iterable[str]) -> tuple[list[DocStatusRecord], list[str]]:
    """The documents each name means (a file's canonical basename, or a doc id), and the
    names that mean none."""
    from lambdarag.indexing.parse import canonical_basename

    found: dict[str, DocStatusRecord] = {}
    unknown = []
    for name in names:
        record = await ws.stores.doc_status.get(name)
        matches = [record] if record else await ws.stores.doc_status.by_file_path(
            canonical_basename(name))
        if not matches:
            unknown.append(name)
        found.update((r["id"], r) for r in matches)
    return list(found.values()), unknown


async def _every_document(ws: Workspace) -> list[DocStatusRecord]:
    records: list[DocStatusRecord] = []
    page = 1
    while True:
        batch = await ws.stores.doc_status.page(statuses=None, page=page, page_size=LISTING_PAGE,
                                                sort_field="file_path", sort_direction="asc")
        records += batch.documents
        if not batch.documents or len(records) >= batch.total_count:
            return records
        page += 1


async def status(settings: Settings, names: list[str]) -> int:
    """One line per document, then the counts; with names, 0 only if all are processed."""
    engine = await _engine(settings)
    try:
        ws = await engine.workspace()
        records, unknown = await _resolve(ws, names) if names else (await _every_document(ws), [])
        for record in records:
            _out(_line(record))
        for name in unknown:
            _err(f"{name}: no such document")
        counts = await ws.stores.doc_status.status_counts()
        _out(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no documents")
        if not names:
            return 0
        return 1 if unknown or any(r["status"] != "processed" for r in records) else 0
    finally:
        await engine.aclose()


async def retry(settings: Settings, names: list[str]) -> int:
    """Index failed documents again (every failed or interrupted one without names)."""
    from lambdarag.documents import lifecycle as documents

    engine = await _engine(settings)
    try:
        ws = await engine.workspace()
        if names:
            records, unknown = await _resolve(ws, names)
            for name in unknown:
                _err(f"{name}: no such document")
            ids = await documents.retry_documents(ws, only={r["id"] for r in records})
            done = [r["id"] for r in records if r["id"] not in ids]  # processed: nothing to do
        else:
            unknown, done = [], []
            ids = await documents.retry_documents(ws)
            if not ids:
                _out("no failed documents")
        await _index_and_wait(engine, ws, ids)
        unfinished = await _report(ws, [*ids, *done])
        return 1 if unknown or unfinished else 0
    finally:
        await engine.aclose()


async def delete(settings: Settings, names: list[str], *, keep_file: bool = False) -> int:
    """Delete the named documents and, unless ``keep_file``, their files in the input
    directory (``delete_file`` of ``/documents/delete_document``)."""
    from lambdarag.documents import lifecycle as documents

    engine = await _engine(settings)
    try:
        ws = await engine.workspace()
        records, unknown = await _resolve(ws, names)
        for name in unknown:
            _err(f"{name}: no such document")
        folder = None if keep_file else documents.input_folder(settings.input_dir, ws.name)
        for record in records:
            deleted = await documents.delete_documents(ws, [record["id"]], files_in=folder)
            _out(f"{record.get('file_path')}: {'deleted' if deleted else 'not deleted'} "
                 f"({record['id']})")
            unknown += [] if deleted else [record["id"]]
        return 1 if unknown else 0
    finally:
        await engine.aclose()
