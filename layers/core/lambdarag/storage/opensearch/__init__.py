"""OpenSearch k-NN vector storage (self-managed, Amazon OpenSearch Service, Serverless).

opensearch-py (the ``aws`` extra) is imported only when a client is made or a request sent.
"""

from __future__ import annotations

from lambdarag.storage.opensearch.client import OpenSearchSettings, auth_for, make_client
from lambdarag.storage.opensearch.vector import (
    OpenSearchVectors,
    OpenSearchVectorStorage,
    cosine_from_score,
    delete_indices,
    index_name,
    open_vectors,
)

__all__ = [
    "OpenSearchSettings",
    "OpenSearchVectorStorage",
    "OpenSearchVectors",
    "auth_for",
    "cosine_from_score",
    "delete_indices",
    "index_name",
    "make_client",
    "open_vectors",
]
