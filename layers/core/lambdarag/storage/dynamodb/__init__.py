"""DynamoDB storage: KV namespaces, doc status and extraction fragments in one table.

boto3 (the ``aws`` extra) is imported only when a client is made.
"""

from lambdarag.storage.dynamodb.blobs import BlobStore, S3BlobStore
from lambdarag.storage.dynamodb.doc_status import DynamoDocStatusStorage
from lambdarag.storage.dynamodb.factory import DynamoDBStorageFactory, stored_workspaces
from lambdarag.storage.dynamodb.fragments import DynamoFragmentStorage
from lambdarag.storage.dynamodb.kv import DynamoKVStorage
from lambdarag.storage.dynamodb.settings import DynamoDBSettings
from lambdarag.storage.dynamodb.table import (
    DynamoTable,
    key_part,
    make_client,
    partition,
    table_definition,
)

__all__ = [
    "BlobStore",
    "DynamoDBSettings",
    "DynamoDBStorageFactory",
    "DynamoDocStatusStorage",
    "DynamoFragmentStorage",
    "DynamoKVStorage",
    "DynamoTable",
    "S3BlobStore",
    "key_part",
    "make_client",
    "partition",
    "stored_workspaces",
    "table_definition",
]
