"""Settings of the S3 Vectors adapter, read from environment names.

LightRAG has no S3 Vectors backend, so the names are LambdaRAG's own, plus the standard
AWS ones. :meth:`S3VectorsSettings.from_env` reads the mapping it is given (the composition
root passes the process environment): nothing in this package reads it itself.

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
from collections.abc import Mapping
from dataclasses import dataclass

from lambdarag.storage.env import EnvReader

_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")


@dataclass(frozen=True)
class S3VectorsSettings:
    """Where the vector bucket is and how the adapter talks to it.

    Examples
    --------
    >>> S3VectorsSettings.from_env({"LAMBDARAG_S3VECTORS_BUCKET": "rag-vectors"}).bucket
    'rag-vectors'
    """

    bucket: str = "lambdarag-vectors"
    create_bucket: bool = True
    index_prefix: str = "lr"
    region: str = "us-east-1"
    endpoint_url: str = ""
    max_attempts: int = 10
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not _BUCKET.fullmatch(self.bucket):
            raise ValueError(
                f"LAMBDARAG_S3VECTORS_BUCKET {self.bucket!r} must be 3-63 characters of a-z, 0-9 "
                "and '-', starting and ending with a letter or digit"
            )
        if not _PREFIX.fullmatch(self.index_prefix):
            raise ValueError(
                f"LAMBDARAG_S3VECTORS_INDEX_PREFIX {self.index_prefix!r} must be 1-16 characters "
                "of a-z, 0-9 and '-', starting with a letter or digit"
            )
        if self.max_attempts < 1 or self.concurrency < 1:
            raise ValueError("LAMBDARAG_S3VECTORS_MAX_ATTEMPTS and _CONCURRENCY must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3VectorsSettings:
        """Settings from ``LAMBDARAG_S3VECTORS_*``, ``S3VECTORS_ENDPOINT_URL`` and ``AWS_REGION``."""
        default = cls()
        env = EnvReader(environ)
        prefix = "LAMBDARAG_S3VECTORS_"
        return cls(
            bucket=env.text(f"{prefix}BUCKET", default.bucket),
            create_bucket=env.flag(f"{prefix}CREATE_BUCKET", True),
            index_prefix=env.text(f"{prefix}INDEX_PREFIX", default.index_prefix),
            region=env.text("AWS_REGION", env.text("AWS_DEFAULT_REGION", default.region)),
            endpoint_url=env.text("S3VECTORS_ENDPOINT_URL", ""),
            max_attempts=env.number(f"{prefix}MAX_ATTEMPTS", default.max_attempts),
            concurrency=env.number(f"{prefix}CONCURRENCY", default.concurrency),
        )
