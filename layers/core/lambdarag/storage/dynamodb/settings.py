"""Settings of the DynamoDB adapter, read from environment names.

LightRAG has no DynamoDB backend, so the names are LambdaRAG's own, plus the standard AWS
ones. config.py's ``DynamoDBEnv`` parses them and builds :class:`DynamoDBSettings`:
nothing in this package reads the environment.

=========================================  ================================================
name                                       meaning (default)
=========================================  ================================================
``LAMBDARAG_DYNAMODB_TABLE``               the one table of every workspace (``lambdarag``)
``LAMBDARAG_DYNAMODB_CREATE_TABLE``        create the table (on-demand) on first use when
                                           it is missing (``true``; set ``false`` when the
                                           SAM template owns it)
``AWS_REGION`` / ``AWS_DEFAULT_REGION``    region (``us-east-1``)
``DYNAMODB_ENDPOINT_URL``                  endpoint override, e.g. DynamoDB Local
                                           ``http://127.0.0.1:8000`` (none: AWS)
``LAMBDARAG_DYNAMODB_MAX_ATTEMPTS``        botocore attempts per call, first one included,
                                           adaptive retry mode (``10``)
``LAMBDARAG_DYNAMODB_BATCH_ATTEMPTS``      rounds re-sending UnprocessedItems/Keys (``8``)
``LAMBDARAG_DYNAMODB_INLINE_LIMIT``        largest JSON value (bytes) kept in the item;
                                           larger ones go to the blob store (``350000``)
``LAMBDARAG_DYNAMODB_BLOB_BUCKET``         S3 bucket of values over the limit (none: such
                                           values are refused with StorageError)
``LAMBDARAG_DYNAMODB_BLOB_PREFIX``         key prefix in that bucket (``dynamodb-blobs/``)
=========================================  ================================================
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"
# DynamoDB's item limit is 400 KB including attribute names and keys (up to ~3 KB here).
MAX_INLINE_LIMIT = 390_000


@dataclass(frozen=True)
class DynamoDBSettings:
    """Where the table is and how the adapter talks to it.

    Examples
    --------
    >>> DynamoDBSettings(table="rag").table
    'rag'
    """

    table: str = "lambdarag"
    create_table: bool = True
    region: str = DEFAULT_REGION
    endpoint_url: str = ""
    max_attempts: int = 10
    batch_attempts: int = 8
    inline_limit: int = 350_000
    blob_bucket: str = ""
    blob_prefix: str = "dynamodb-blobs/"

    def __post_init__(self) -> None:
        if not 3 <= len(self.table) <= 255:
            raise ValueError(f"DynamoDB table name must be 3-255 characters, got {self.table!r}")
        if min(self.max_attempts, self.batch_attempts) < 1:
            raise ValueError("DynamoDB attempt counts must be positive")
        if not 0 < self.inline_limit <= MAX_INLINE_LIMIT:
            raise ValueError(
                f"LAMBDARAG_DYNAMODB_INLINE_LIMIT must be in 1..{MAX_INLINE_LIMIT}, "
                f"got {self.inline_limit}"
            )
