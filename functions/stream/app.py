"""The streaming entry point: the same FastAPI app, served by uvicorn behind Lambda Web Adapter.

``lambdarag.api.app.create_app`` takes the settings, so uvicorn's ``--factory`` points here:
the secret named by ``LAMBDARAG_SECRET_ARN`` is loaded into the environment first (as the
other Lambda entry points do), then the app is built from ``load_settings()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def create_app() -> FastAPI:
    """Build the LambdaRAG app for uvicorn (``uvicorn app:create_app --factory``)."""
    from lambdarag.api.app import create_app as build_app
    from lambdarag.config import load_settings
    from lambdarag.serverless.bootstrap import load_secrets

    load_secrets()
    return build_app(load_settings())
