"""Lambda init: settings from a Secrets Manager secret into the environment."""

from __future__ import annotations

import json
import logging
import os

from lambdarag.errors import LambdaRAGError
from lambdarag.serverless.clients import client

logger = logging.getLogger(__name__)

SECRET_ENV = "LAMBDARAG_SECRET_ARN"


class SecretFormatError(LambdaRAGError, ValueError):
    """The secret is not a JSON object of setting names to string values."""


def load_secrets(secret_id: str | None = None) -> list[str]:
    """Copy the secret's ``{"LLM_BINDING_API_KEY": "...", ...}`` into ``os.environ``.

    A variable already set in the function's environment wins (an explicit override).
    Returns the names that were set; values are never logged.
    """
    secret_id = secret_id or os.environ.get(SECRET_ENV, "")
    if not secret_id:
        return []
    raw = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SecretFormatError(f"secret {secret_id} is not JSON: {exc.msg}") from None
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise SecretFormatError(
            f"secret {secret_id} must be a JSON object of setting names to string values, "
            'e.g. {"LLM_BINDING_API_KEY": "sk-..."}'
        )
    applied = [name for name in values if name not in os.environ]
    for name in applied:
        os.environ[name] = values[name]
    logger.info("loaded %d settings from %s", len(applied), SECRET_ENV)
    return applied
