"""Connection settings and the AsyncOpenSearch client of the OpenSearch adapter.

Settings come from environment names LightRAG's OpenSearch storage already reads, so a
LightRAG ``.env`` keeps working; the ``LAMBDARAG_OPENSEARCH_*`` names cover what LightRAG
lacks. config.py's ``OpenSearchEnv`` parses them and builds :class:`OpenSearchSettings`:
nothing in this package reads the environment.

============================================  ==========================================
name                                          meaning (default)
============================================  ==========================================
``OPENSEARCH_HOSTS``                          comma-separated ``host:port`` or URLs
                                              (``localhost:9200``)
``OPENSEARCH_USER`` / ``OPENSEARCH_PASSWORD``  basic auth for self-managed clusters (none)
``OPENSEARCH_USE_SSL``                        TLS (``false``; an ``https://`` host implies it)
``OPENSEARCH_VERIFY_CERTS``                   verify the server certificate (``true``)
``OPENSEARCH_TIMEOUT``                        request timeout in seconds (``30``)
``OPENSEARCH_MAX_RETRIES``                    transport retries on 429/502/503/504 (``3``)
``OPENSEARCH_KNN_M``                          HNSW ``m`` (``16``)
``OPENSEARCH_KNN_EF_CONSTRUCTION``            HNSW ``ef_construction`` (``200``)
``OPENSEARCH_KNN_EF_SEARCH``                  candidates per query, at least ``k``; 0 omits it (``100``)
``LAMBDARAG_OPENSEARCH_ENGINE``               ``lucene`` or ``faiss`` (``lucene``)
``LAMBDARAG_OPENSEARCH_SPACE``                ``innerproduct`` or ``cosinesimil``
                                              (``innerproduct``, see vector.py)
``LAMBDARAG_OPENSEARCH_INDEX_PREFIX``         first part of every index name (``lambdarag``)
``LAMBDARAG_OPENSEARCH_SHARDS`` / ``_REPLICAS``  per index (``1`` / ``0``)
``LAMBDARAG_OPENSEARCH_REFRESH``              ``true``, ``wait_for`` or ``false`` (``true``)
``LAMBDARAG_OPENSEARCH_BULK_DOCS``            documents per bulk request (``500``)
``LAMBDARAG_OPENSEARCH_BULK_BYTES``           bytes per bulk request (``5000000``)
``LAMBDARAG_OPENSEARCH_BULK_CONCURRENCY``     bulk requests in flight per upsert (``2``)
``LAMBDARAG_OPENSEARCH_AWS_SERVICE``          ``es`` (Amazon OpenSearch Service) or ``aoss``
                                              (Serverless): SigV4 instead of basic auth
``LAMBDARAG_OPENSEARCH_AWS_REGION``           SigV4 region (``AWS_REGION``)
============================================  ==========================================
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lambdarag.storage.base import (
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VersionConflictError,
)

if TYPE_CHECKING:
    from opensearchpy import AsyncOpenSearch

logger = logging.getLogger(__name__)

ENGINES = ("lucene", "faiss", "nmslib")
SPACES = ("innerproduct", "cosinesimil")
REFRESH_MODES = ("true", "wait_for", "false")
AWS_SERVICES = ("", "es", "aoss")


@dataclass(frozen=True)
class OpenSearchSettings:
    """Where the cluster is, how to authenticate, and how indices are built.

    Parameters
    ----------
    hosts:
        ``host:port`` strings or URLs.
    engine, space_type, m, ef_construction, ef_search:
        The ``knn_vector`` method; only ``lucene`` runs on the local node.
    refresh:
        ``true`` makes every write visible to the next search (one small segment per bulk
        request); ``wait_for`` waits for the next scheduled refresh (up to
        ``index.refresh_interval``, 1 s by default) instead; ``false`` is eventually
        consistent. Serverless collections accept none of them: with ``aws_service="aoss"``
        the parameter is never sent and writes show in searches after a few seconds.
    aws_service, aws_region:
        ``es`` or ``aoss`` sign requests with SigV4 using boto3's default credentials.

    Examples
    --------
    >>> OpenSearchSettings(hosts=("http://127.0.0.1:9200",)).hosts
    ('http://127.0.0.1:9200',)
    """

    hosts: tuple[str, ...] = ("localhost:9200",)
    user: str = ""
    password: str = field(default="", repr=False)
    use_ssl: bool = False
    verify_certs: bool = True
    timeout: float = 30.0
    max_retries: int = 3
    engine: str = "lucene"
    space_type: str = "innerproduct"
    m: int = 16
    ef_construction: int = 200
    ef_search: int = 100
    index_prefix: str = "lambdarag"
    shards: int = 1
    replicas: int = 0
    refresh: str = "true"
    bulk_docs: int = 500
    bulk_bytes: int = 5_000_000
    bulk_concurrency: int = 2
    aws_service: str = ""
    aws_region: str = ""

    def __post_init__(self) -> None:
        _choice("engine", self.engine, ENGINES)
        _choice("space_type", self.space_type, SPACES)
        _choice("refresh", self.refresh, REFRESH_MODES)
        _choice("aws_service", self.aws_service, AWS_SERVICES)
        if not self.hosts:
            raise ValueError("OpenSearch needs at least one host (OPENSEARCH_HOSTS)")
        if min(self.bulk_docs, self.bulk_bytes, self.bulk_concurrency, self.m) < 1:
            raise ValueError("OpenSearch bulk limits and HNSW m must be positive")
        if self.aws_service and not self.aws_region:
            raise ValueError(
                "SigV4 needs a region: set LAMBDARAG_OPENSEARCH_AWS_REGION or AWS_REGION"
            )

    def with_prefix(self, index_prefix: str) -> OpenSearchSettings:
        """A copy whose indices start with ``index_prefix`` (tests scope runs with it)."""
        return replace(self, index_prefix=index_prefix)

    @property
    def endpoint(self) -> str:
        """The hosts, for error messages."""
        return ",".join(self.hosts)


def make_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    """An ``AsyncOpenSearch`` (aiohttp) client: SigV4 for ``es``/``aoss``, else basic auth.

    Nothing is sent until the first request, so this is safe to call outside a loop.
    """
    from opensearchpy import AsyncHttpConnection, AsyncOpenSearch

    return AsyncOpenSearch(
        hosts=list(settings.hosts),
        http_auth=auth_for(settings),
        use_ssl=settings.use_ssl,
        verify_certs=settings.verify_certs,
        ssl_show_warn=False,
        connection_class=AsyncHttpConnection,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        retry_on_timeout=True,
        retry_on_status=(429, 502, 503, 504),
    )


def auth_for(settings: OpenSearchSettings) -> Any:
    """The ``http_auth`` of the client: a SigV4 signer, a (user, password) pair, or None."""
    if settings.aws_service:
        import boto3  # only SigV4 deployments need it at import time
        from opensearchpy import AWSV4SignerAsyncAuth

        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise StoreUnavailableError(
                f"no AWS credentials found to sign OpenSearch requests to {settings.endpoint} "
                f"(service {settings.aws_service}); configure the role or AWS_* variables"
            )
        return AWSV4SignerAsyncAuth(credentials, settings.aws_region, settings.aws_service)
    if settings.user:
        return (settings.user, settings.password)
    return None


def translate(exc: Exception, endpoint: str, action: str) -> StorageError:
    """An opensearch-py error as the storage error that says what it means.

    Unreachable or 5xx: the store is unavailable; 429 (after the client's own retries):
    throttled, back off; 409: a concurrent writer won. Each names ``endpoint`` and ``action``.
    """
    from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
    from opensearchpy.exceptions import TransportError

    if isinstance(exc, OpenSearchConnectionError):  # also ConnectionTimeout and SSLError
        return StoreUnavailableError(
            f"OpenSearch at {endpoint} is unreachable ({action}): {type(exc).__name__}"
        )
    if isinstance(exc, TransportError):
        message = f"OpenSearch {action} failed at {endpoint}: {exc.status_code} {_reason(exc)}"
        status = exc.status_code if isinstance(exc.status_code, int) else 0
        if status == 429:
            return StoreThrottledError(message)
        if status == 409:
            return VersionConflictError(message)
        if status >= 500:
            return StoreUnavailableError(message)
        return StorageError(message)
    return StorageError(f"OpenSearch {action} failed at {endpoint}: {exc!r}")


def error_type(exc: Exception) -> str:
    """OpenSearch's ``error.type`` of a failed request (``resource_already_exists_exception``).

    The async connection hands the raw body to the exception instead of the parsed one,
    so the body is parsed here when the client did not.
    """
    error = _error_object(exc)
    return str(error.get("type", "")) if error else ""


def _error_object(exc: Exception) -> dict[str, Any]:
    info = getattr(exc, "info", None)
    if isinstance(info, str | bytes):
        try:
            info = json.loads(info)
        except ValueError:
            info = None
    if info is None:  # the raw body may be the message argument instead
        raw = getattr(exc, "error", "")
        try:
            info = json.loads(raw) if isinstance(raw, str | bytes) and raw[:1] in ("{", b"{") else None
        except ValueError:
            info = None
    error = info.get("error") if isinstance(info, dict) else None
    return error if isinstance(error, dict) else {}


def _reason(exc: Any) -> str:
    error = _error_object(exc)
    if error:
        return f"{error.get('type', '')}: {error.get('reason', '')}"[:300]
    return str(getattr(exc, "error", exc))[:300]


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"OpenSearch {name} must be one of {allowed}, got {value!r}")
