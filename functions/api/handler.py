"""API Lambda entry point: the FastAPI app behind API Gateway, through Mangum.

The app and engine are built once per execution environment (init phase) and
reused while the function is warm. The serverless wiring is completed by the
serverless work item (see template.yaml).
"""

from __future__ import annotations

from mangum import Mangum

from lambdarag.api.app import create_app
from lambdarag.config import load_settings

handler = Mangum(create_app(load_settings()), lifespan="auto")
