"""Small helpers shared by the engine: ids, time, names."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import UTC, datetime

_WORKSPACE_BAD = re.compile(r"[^A-Za-z0-9_]")
UNKNOWN_SOURCE = "unknown_source"


def mdhash(text: str, prefix: str = "") -> str:
    """``prefix + md5_hex(text)``: the id scheme LightRAG's stores use."""
    return prefix + hashlib.md5(text.encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def now_unix() -> int:
    return int(time.time())


def new_track_id(prefix: str) -> str:
    """``<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>`` in server local time."""
    return f"{prefix}_{datetime.now().strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:8]}"


def sanitise_workspace(name: str) -> str:
    """Workspace names keep ``[A-Za-z0-9_]``; anything else becomes ``_``."""
    return _WORKSPACE_BAD.sub("_", name.strip())


def content_summary(text: str, limit: int = 250) -> str:
    stripped = text.strip()
    return stripped[:limit] + "..." if len(stripped) > limit else stripped


def canonical_source(file_source: str | None) -> str:
    """Basename of a client-given source; empty or placeholder names mean unknown."""
    if not file_source or file_source.strip() in {"", "no-file-path", UNKNOWN_SOURCE}:
        return UNKNOWN_SOURCE
    return re.split(r"[\\/]", file_source.strip())[-1] or UNKNOWN_SOURCE


def doc_id_for(text: str, file_path: str) -> str:
    """``doc-md5(basename)`` for a known source, else ``doc-md5(content)`` (contract §6.3)."""
    if file_path != UNKNOWN_SOURCE:
        return mdhash(file_path, "doc-")
    return mdhash(text.strip(), "doc-")


def content_hash(text: str) -> str:
    return mdhash(" ".join(text.split()))


def chunk_id_for(doc_id: str, index: int) -> str:
    return f"{doc_id}-chunk-{index:03d}"
