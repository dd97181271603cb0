"""Small helpers shared by the engine and its adapters: ids, time, names, batches, gathering."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from lambdarag.errors import LambdaRAGError

_WORKSPACE_BAD = re.compile(r"[^A-Za-z0-9_]")
_WORKSPACE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
WORKSPACE_NAME_RULE = (
    "1 to 64 characters, each a letter, a digit or _ ([A-Za-z0-9_]{1,64}), "
    "not starting and ending with __ (reserved, e.g. __parsed__)"
)
UNKNOWN_SOURCE = "unknown_source"

T = TypeVar("T")


def mdhash(text: str, prefix: str = "") -> str:
    """``prefix + md5_hex(text)``: the id scheme LightRAG's stores use."""
    return prefix + hashlib.md5(text.encode("utf-8")).hexdigest()


def pair_hash(src: str, tgt: str, prefix: str) -> str:
    """``prefix + md5(a + b)`` of the pair in sorted order: an undirected relation's id."""
    a, b = (src, tgt) if src <= tgt else (tgt, src)
    return mdhash(a + b, prefix)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def now_unix() -> int:
    return int(time.time())


def new_track_id(prefix: str) -> str:
    """``<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>`` in server local time."""
    return f"{prefix}_{datetime.now().strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}"


def sanitise_workspace(name: str) -> str:
    """Workspace names keep ``[A-Za-z0-9_]``; anything else becomes ``_``.

    Only for the operator's own WORKSPACE setting (LightRAG sanitises it). Names that come
    from a request are checked with :func:`check_workspace_name` instead: two clients'
    ``team-a`` and ``team.a`` must not silently share ``team_a``.
    """
    return _WORKSPACE_BAD.sub("_", name.strip())


class InvalidWorkspaceName(LambdaRAGError, ValueError):
    """A workspace name outside ``[A-Za-z0-9_]{1,64}``; the message says the rule."""

    http_status = 400


def check_workspace_name(name: str) -> str:
    """``name`` unchanged when it is a valid workspace name, else InvalidWorkspaceName.

    Valid names cannot hold ``/``, ``.`` or ``%``, so no name can reach outside the
    storage directory (``../x``, ``a/b``, ``%2e%2e``).
    """
    reserved = len(name) >= 4 and name.startswith("__") and name.endswith("__")
    if reserved or not _WORKSPACE_NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:80] + "..."
        raise InvalidWorkspaceName(f"Invalid workspace name {shown!r}: use {WORKSPACE_NAME_RULE}.")
    return name


def content_summary(text: str, limit: int = 250) -> str:
    stripped = text.strip()
    return stripped[:limit] + "..." if len(stripped) > limit else stripped


def canonical_source(file_source: str | None) -> str:
    """Basename of a client-given source; empty or placeholder names mean unknown."""
    if not file_source or file_source.strip() in {"", "no-file-path", UNKNOWN_SOURCE}:
        return UNKNOWN_SOURCE
    return re.split(r"[\\/]", file_source.strip())[-1] or UNKNOWN_SOURCE


def doc_id_for(text: str, file_path: str) -> str:
    """``doc-md5(basename)`` for a known source, else ``doc-md5(content)``."""
    if file_path != UNKNOWN_SOURCE:
        return mdhash(file_path, "doc-")
    return mdhash(text.strip(), "doc-")


def content_hash(text: str) -> str:
    return mdhash(" ".join(text.split()))


def chunk_id_for(doc_id: str, index: int) -> str:
    return f"{doc_id}-chunk-{index:03d}"


def pack(items: Iterable[T], size_of: Callable[[T], int], *, max_count: int,
         max_size: int) -> list[list[T]]:
    """Consecutive groups of ``items``, each of at most ``max_count`` items and ``max_size``
    total size; an item larger than ``max_size`` gets a group of its own.

    >>> pack(["aa", "b", "cccc", "d"], len, max_count=3, max_size=4)
    [['aa', 'b'], ['cccc'], ['d']]
    """
    groups: list[list[T]] = []
    current: list[T] = []
    total = 0
    for item in items:
        size = size_of(item)
        if current and (len(current) >= max_count or total + size > max_size):
            groups.append(current)
            current, total = [], 0
        current.append(item)
        total += size
    if current:
        groups.append(current)
    return groups


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """The results of ``awaitables`` run concurrently, in order; when one fails (or the
    caller is cancelled) the others are cancelled before the error propagates."""
    futures = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*futures))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
