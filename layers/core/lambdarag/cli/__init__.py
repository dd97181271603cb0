"""The ``lambdarag`` command line (``python -m lambdarag.cli`` runs it too)."""

from lambdarag.cli.main import main

__all__ = ["main"]
