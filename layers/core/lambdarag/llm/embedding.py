"""Batching and shape checks shared by every embedding binding."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np

from lambdarag.llm.base import EmbeddingBinding, LLMResponseError
from lambdarag.utils import gather_all


class BatchedEmbedding(EmbeddingBinding):
    """An embedding binding that only has to embed one batch.

    ``embed`` cuts the texts into batches of ``config.batch_num``, embeds them
    concurrently (the binding's semaphore bounds the requests in flight), and returns a
    float32 matrix of shape ``(len(texts), config.dim)``, failing on any other shape.
    """

    @abstractmethod
    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        size = max(1, self.config.batch_num)
        batches = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
        results = await gather_all(self._embed_batch(batch) for batch in batches)
        return self._to_matrix([row for rows in results for row in rows], len(texts))

    def _to_matrix(self, rows: list[list[float]], expected: int) -> np.ndarray:
        model = self.config.model
        if len(rows) != expected:
            raise LLMResponseError(
                f"Embedding model {model!r} returned {len(rows)} vectors for {expected} texts"
            )
        wrong = next((len(row) for row in rows if len(row) != self.dim), None)
        if wrong is not None:
            raise LLMResponseError(
                f"Embedding model {model!r} returned {wrong} dims but EMBEDDING_DIM is "
                f"{self.dim}; set EMBEDDING_DIM={wrong} or pick a model with {self.dim} dims"
            )
        return np.asarray(rows, dtype=np.float32)
