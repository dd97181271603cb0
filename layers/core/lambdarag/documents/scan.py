"""Scanning INPUT_DIR: enqueue new files, move handled ones to ``__parsed__``.

Files are classified by canonical basename (parser hint removed) against the documents
that own that name: none (``claimed_new``), one (``processed`` or ``alias_duplicate``),
or several (``source_conflict``: the file stays where it is until the conflict is
repaired through ``/documents/source_conflicts/repair``).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdarag.documents import lifecycle as documents
from lambdarag.indexing.parse import canonical_basename, is_supported
from lambdarag.storage.base import DocStatusRecord
from lambdarag.workspace.workspace import Workspace

PARSED_DIR = documents.PARSED_DIR
SAMPLE_LIMIT = 20


@dataclass
class ScanJob:
    """The ``/documents/scan/status/{track_id}`` record of one scan."""

    track_id: str
    status: str = "running"
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    message: str = ""
    version: int = 0

    def count(self, bucket: str, name: str) -> None:
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        items = self.samples.setdefault(bucket, [])
        if len(items) < SAMPLE_LIMIT:
            items.append(name)
        self.updated_at = time.time()
        self.version += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id, "status": self.status, "counts": self.counts,
            "counters_dropped": 0,
            "samples": {k: {"items": v, "truncated": self.counts[k] > len(v),
                            "dropped": self.counts[k] - len(v)} for k, v in self.samples.items()},
            "created_at": self.created_at, "updated_at": self.updated_at,
            "version": self.version, "message": self.message,
        }


def _free_name(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or ``stem_001.ext`` ... when taken."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    index = 1
    while target.exists() and index < 1000:
        target = folder / f"{stem}_{index:03d}{suffix}"
        index += 1
    return target


def _bucket(owners: list[DocStatusRecord], claimed: bool) -> str:
    """The scan status counter of a file whose name ``owners`` own (``claimed``: in this scan)."""
    if len(owners) > 1:
        return "source_conflict"
    if owners:
        return "processed" if owners[0]["status"] == "processed" else "alias_duplicate"
    return "alias_duplicate" if claimed else "claimed_new"


def _classify(names: Iterable[str], owners: dict[str, list[DocStatusRecord]],
              job: ScanJob) -> Iterator[tuple[int, str, str]]:
    """``(position, canonical name, counter)`` of each supported file name, counted in ``job``.

    A name claimed earlier in the same scan counts as ``alias_duplicate`` for later files.
    """
    claimed: set[str] = set()
    for position, raw in enumerate(names):
        name = canonical_basename(raw)
        if not is_supported(name):
            job.count("unsupported", raw)
            continue
        bucket = _bucket(owners.get(name, []), name in claimed)
        job.count(bucket, raw)
        if bucket == "claimed_new":
            claimed.add(name)
        yield position, name, bucket


async def scan_input_dir(ws: Workspace, folder: Path, job: ScanJob) -> list[str]:
    """Enqueue every supported file of ``folder``; returns the new doc ids."""
    parsed = folder / PARSED_DIR
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    owners = await documents.sources_by_key(ws) if files else {}
    new_docs: list[documents.NewDocument] = []
    for position, name, bucket in _classify([p.name for p in files], owners, job):
        if bucket == "source_conflict":
            continue
        path = files[position]
        parsed.mkdir(exist_ok=True)
        target = _free_name(parsed, path.name)
        await asyncio.to_thread(shutil.move, path, target)
        if bucket == "claimed_new":
            new_docs.append(documents.NewDocument(name, source_file=str(target)))
    result = await documents.enqueue(ws, new_docs, job.track_id)
    return result.doc_ids


async def scan_listed(ws: Workspace, files: list[tuple[str, str]], job: ScanJob) -> list[str]:
    """Enqueue the listed ``(source, name)`` files no document owns yet (a remote input store).

    The files stay where they are (moving an S3 object would raise its Object Deleted
    event, which deletes its document); a file already registered counts as ``processed``
    or ``alias_duplicate`` as in a local scan. This catches files whose event was lost, or
    that were in the bucket before the stack's rule existed.
    """
    owners = await documents.sources_by_key(ws) if files else {}
    new_docs = [
        documents.NewDocument(name, source_file=files[position][0])
        for position, name, counter in _classify([raw for _, raw in files], owners, job)
        if counter == "claimed_new"
    ]
    result = await documents.enqueue(ws, new_docs, job.track_id)
    return result.doc_ids
