"""Settings of the S3 Vectors adapter.

LightRAG has no S3 Vectors backend, so the names are LambdaRAG's own, plus the standard
AWS ones. ``lambdarag.config.S3VectorsEnv`` reads and validates them and builds
:class:`S3VectorsSettings`; nothing in this package reads the environment.

=========================================  ================================================
name                                       meaning (default)
=========================================  ================================================
``LAMBDARAG_S3VECTORS_BUCKET``             the vector bucket of every workspace
                                           (``lambdarag-vectors``)
``LAMBDARAG_S3VECTORS_CREATE_BUCKET``      create the bucket on first use when it is
                                           missing (``true``; ``false`` when the SAM
                                           template owns it)
``LAMBDARAG_S3VECTORS_INDEX_PREFIX``       first part of every index name (``lr``), so
                                           several deployments can share one bucket
``LAMBDARAG_S3VECTORS_MAX_ATTEMPTS``       botocore attempts per call, first one included,
                                           adaptive retry mode (``10``)
``LAMBDARAG_S3VECTORS_CONCURRENCY``        PutVectors/GetVectors requests in flight per
                                           store call (``4``)
``S3VECTORS_ENDPOINT_URL``                 endpoint override, e.g. the tests' local server
                                           (none: AWS)
``AWS_REGION`` / ``AWS_DEFAULT_REGION``    region (``us-east-1``)
=========================================  ================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")


def check_bucket(name: str) -> str:
    """``name`` when it is a valid vector bucket name, else ValueError saying why."""
    if not _BUCKET.fullmatch(name):
        raise ValueError("must be 3-63 characters of a-z, 0-9 and '-', starting and ending "
                         "with a letter or digit")
    return name


def check_index_prefix(prefix: str) -> str:
    """``prefix`` when index names can start with it, else ValueError saying why."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError("must be 1-16 characters of a-z, 0-9 and '-', starting with a letter "
                         "or digit")
    return prefix


@dataclass(frozen=True)
class S3VectorsSettings:
    """Where the vector bucket is and how the adapter talks to it.

    Examples
    --------
    >>> S3VectorsSettings(bucket="rag-vectors").index_prefix
    'lr'
    """

    bucket: str = "lambdarag-vectors"
    create_bucket: bool = True
    index_prefix: str = "lr"
    region: str = DEFAULT_REGION
    endpoint_url: str = ""
    max_attempts: int = 10
    concurrency: int = 4

    def __post_init__(self) -> None:
        for variable, check, value in (("BUCKET", check_bucket, self.bucket),
                                       ("INDEX_PREFIX", check_index_prefix, self.index_prefix)):
            try:
                check(value)
            except ValueError as exc:
                raise ValueError(f"LAMBDARAG_S3VECTORS_{variable}: {value!r} {exc}") from None
        if self.max_attempts < 1 or self.concurrency < 1:
            raise ValueError("LAMBDARAG_S3VECTORS_MAX_ATTEMPTS and _CONCURRENCY must be positive")
