"""Embedded storage: one SQLite database per workspace, exact numpy vector search."""

from __future__ import annotations

from lambdarag.storage.embedded.factory import EmbeddedStorageFactory

__all__ = ["EmbeddedStorageFactory"]
