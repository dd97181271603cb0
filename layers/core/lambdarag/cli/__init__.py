"""The ``lambdarag`` command line (``python -m lambdarag.cli`` runs it too), and
``lightrag-server``, its ``serve`` under LightRAG's name."""

from lambdarag.cli.main import main, serve_main

__all__ = ["main", "serve_main"]
