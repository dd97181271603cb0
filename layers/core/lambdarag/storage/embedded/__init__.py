"""Embedded storage: one SQLite database per workspace, exact numpy vector search."""

from __future__ import annotations

from lambdarag.storage.embedded.factory import EmbeddedStorageFactory, stored_workspaces

__all__ = ["EmbeddedStorageFactory", "stored_workspaces"]
