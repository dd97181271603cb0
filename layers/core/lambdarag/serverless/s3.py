"""The S3 drop folder: object keys <-> (workspace, file name), and object reads/writes.

``<prefix><name>`` belongs to the default workspace and ``<prefix><workspace>/<name>``
to that workspace (the same layout as INPUT_DIR locally). Any other key (deeper
folders, or "folder" placeholder keys ending in ``/``) is not a document.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

from lambdarag.serverless.clients import client


@dataclass(frozen=True)
class DropKey:
    workspace: str
    name: str


def parse_key(key: str, prefix: str) -> DropKey | None:
    """The workspace and file name of an object key, or None when it is not a drop file."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix):].split("/")
    if len(parts) == 1 and parts[0]:
        return DropKey("", parts[0])
    if len(parts) == 2 and all(parts):
        return DropKey(parts[0], parts[1])
    return None


def event_key(raw: str) -> str:
    """An object key as S3 event notifications deliver it (URL-encoded, ``+`` for spaces)."""
    return unquote_plus(raw)


def object_key(prefix: str, workspace: str, name: str) -> str:
    return f"{prefix}{workspace}/{name}" if workspace else f"{prefix}{name}"


def url(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_url(source: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError for anything else."""
    if not source.startswith("s3://") or "/" not in source[5:]:
        raise ValueError(f"not an s3:// object URL: {source!r}")
    bucket, key = source[5:].split("/", 1)
    return bucket, key


async def read_object(source: str) -> bytes:
    bucket, key = split_url(source)

    def read() -> bytes:
        return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    return await asyncio.to_thread(read)


async def put_file(path: Path, bucket: str, key: str) -> None:
    await asyncio.to_thread(client("s3").upload_file, str(path), bucket, key)


async def delete_object(source: str) -> None:
    bucket, key = split_url(source)
    await asyncio.to_thread(client("s3").delete_object, Bucket=bucket, Key=key)


def _top_level_keys(bucket: str, folder: str) -> Iterator[str]:
    """Keys directly in ``folder`` (not in its subfolders, not the folder marker)."""
    for page in client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=folder, Delimiter="/"
    ):
        yield from (o["Key"] for o in page.get("Contents", []) if o["Key"] != folder)


async def drop_files(bucket: str, prefix: str, workspace: str) -> list[tuple[str, str]]:
    """``(key, file name)`` of every file in the workspace's drop folder, by key."""
    folder = object_key(prefix, workspace, "")
    keys = await asyncio.to_thread(lambda: sorted(_top_level_keys(bucket, folder)))
    return [(key, key[len(folder):]) for key in keys]


async def delete_drop_files(bucket: str, prefix: str, workspace: str) -> int:
    """Delete the workspace's drop files (its folder's top level, as a local clear does).

    Each deletion raises the bucket's Object Deleted event; the trigger then finds no
    document left to delete. Returns how many objects were deleted.
    """
    folder = object_key(prefix, workspace, "")
    s3 = client("s3")

    def delete() -> int:
        keys = [{"Key": key} for key in _top_level_keys(bucket, folder)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys
            s3.delete_objects(Bucket=bucket,
                              Delete={"Objects": keys[start : start + 1000], "Quiet": True})
        return len(keys)

    return await asyncio.to_thread(delete)
