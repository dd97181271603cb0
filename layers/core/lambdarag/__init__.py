"""LambdaRAG: a LightRAG-compatible graph-RAG engine and server."""

from __future__ import annotations

import logging

__version__ = "0.1.0"
API_VERSION = "0344"  # the LightRAG server API this build is compatible with

logging.getLogger(__name__).addHandler(logging.NullHandler())
