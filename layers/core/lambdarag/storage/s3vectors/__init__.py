"""Amazon S3 Vectors vector storage (one vector bucket, an index per workspace and namespace).

boto3 (the ``aws`` extra) is imported only when a client is made; numpy and the adapter load
on first use of ``S3VectorsStorage``, so reading the settings stays cheap.
"""

from __future__ import annotations

from typing import Any

from lambdarag.storage.s3vectors.settings import S3VectorsSettings

__all__ = ["S3VectorsBucket", "S3VectorsSettings", "S3VectorsStorage", "delete_indexes",
           "index_name"]


def __getattr__(name: str) -> Any:
    if name in ("S3VectorsBucket", "S3VectorsStorage", "index_name", "delete_indexes"):
        from lambdarag.storage.s3vectors import vector

        return getattr(vector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
