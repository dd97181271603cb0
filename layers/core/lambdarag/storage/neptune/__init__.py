"""Amazon Neptune graph storage over Gremlin (TinkerPop 3.7, gremlinpython 3.7.3).

The graph adapter (and with it gremlinpython) loads on first use of
``NeptuneGraphStorage``: reading the connection settings, which every process does
when it validates its settings, stays free of gremlinpython's import cost.
"""

from __future__ import annotations

from typing import Any

from lambdarag.storage.neptune.connection import GremlinRunner, NeptuneConfig, sigv4_headers

__all__ = ["GremlinRunner", "NeptuneConfig", "NeptuneGraphStorage", "sigv4_headers"]


def __getattr__(name: str) -> Any:
    if name == "NeptuneGraphStorage":
        from lambdarag.storage.neptune.graph import NeptuneGraphStorage

        return NeptuneGraphStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
