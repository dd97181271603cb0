"""Amazon Neptune graph storage over Gremlin (TinkerPop 3.7, gremlinpython 3.7.3)."""

from __future__ import annotations

from lambdarag.storage.neptune.connection import GremlinRunner, NeptuneConfig, sigv4_headers
from lambdarag.storage.neptune.graph import NeptuneGraphStorage

__all__ = ["GremlinRunner", "NeptuneConfig", "NeptuneGraphStorage", "sigv4_headers"]
