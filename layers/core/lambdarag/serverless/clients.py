"""boto3 clients, one per service per process, created on first use.

boto3 is imported here and not at module import, so a cold Lambda pays for it only
when a request needs it. Endpoints follow boto3's own settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_S3`` ...), which is how tests point them at local stand-ins.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_lock = threading.Lock()


@cache
def _client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 5}))


def client(service: str) -> Any:
    """The shared client of ``service`` (thread-safe: boto3 clients are)."""
    with _lock:
        return _client(service)


def reset() -> None:
    """Forget the clients (tests that move endpoints between runs)."""
    with _lock:
        _client.cache_clear()
