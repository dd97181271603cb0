"""Writes into an embedded workspace, acknowledging each durable item on stdout.

Used by test_embedded_durability.py as a separate process:

    python embedded_writer.py WORKING_DIR WORKSPACE PREFIX COUNT

For i in 0..COUNT-1 (forever when COUNT is 0) it writes, each as its own awaited
call: KV key ``PREFIX-i``, a doc-status row ``PREFIX-i``, graph node ``PREFIX-i``
with an edge to the existing node ``HUB``, and vector ``PREFIX-i`` (see
``vector_for``). Only then does it print ``ack PREFIX-i``.
"""

from __future__ import annotations

import asyncio
import sys
import zlib

import numpy as np

from lambdarag.storage.embedded import EmbeddedStorageFactory

DIM = 16
HUB = "HUB"
NAMESPACE = "chunks"


def vector_for(key: str) -> np.ndarray:
    """The deterministic vector written for ``key``."""
    return np.random.default_rng(zlib.crc32(key.encode())).normal(size=DIM).astype(np.float32)


async def write_item(factory: EmbeddedStorageFactory, key: str) -> None:
    await factory.kv("full_docs").upsert({key: {"content": f"content of {key}"}})
    await factory.doc_status().upsert([{"id": key, "status": "processed", "track_id": "w"}])
    graph = factory.graph()
    await graph.upsert_nodes({key: {"entity_id": key}})
    await graph.upsert_edges({(key, HUB): {"weight": 1.0}})
    await factory.vectors(NAMESPACE, DIM).upsert(
        [{"id": key, "full_doc_id": key}], vector_for(key)[None, :]
    )


async def main(working_dir: str, workspace: str, prefix: str, count: int) -> None:
    factory = EmbeddedStorageFactory(working_dir, workspace)
    try:
        i = 0
        while count == 0 or i < count:
            key = f"{prefix}-{i}"
            await write_item(factory, key)
            print(f"ack {key}", flush=True)
            i += 1
    finally:
        await factory.close()


if __name__ == "__main__":
    directory, name, key_prefix, total = sys.argv[1:5]
    asyncio.run(main(directory, name, key_prefix, int(total)))
