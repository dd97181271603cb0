"""An in-memory matrix of unit vectors with exact cosine top-k."""

from __future__ import annotations

import numpy as np

_MIN_CAPACITY = 64


class VectorIndex:
    """Row-aligned unit vectors, their ids and their ``full_doc_id`` values.

    Removal swaps the last row into the hole; capacity doubles when full, so an
    upsert never copies the whole matrix more than O(log n) times in total.
    Not thread-safe: its owner confines it to one thread.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._doc_of: dict[str, str] = {}
        self._doc_members: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def upsert(self, ids: list[str], doc_ids: list[str | None], vectors: np.ndarray) -> None:
        """Insert or overwrite rows; ``ids`` must be unique, ``vectors`` unit-length float32."""
        targets = np.empty(len(ids), dtype=np.int64)
        for position, (vector_id, doc_id) in enumerate(zip(ids, doc_ids, strict=True)):
            row = self._rows.get(vector_id)
            if row is None:
                row = len(self._ids)
                self._rows[vector_id] = row
                self._ids.append(vector_id)
            targets[position] = row
            self._set_doc(vector_id, doc_id)
        self.reserve(len(self._ids))
        self._matrix[targets] = vectors

    def remove(self, ids: list[str]) -> None:
        """Remove rows by id (absent ids are ignored)."""
        for vector_id in ids:
            row = self._rows.pop(vector_id, None)
            if row is None:
                continue
            self._set_doc(vector_id, None)
            last = len(self._ids) - 1
            moved = self._ids.pop()
            if row != last:
                self._ids[row] = moved
                self._rows[moved] = row
                self._matrix[row] = self._matrix[last]

    def search(
        self, query: np.ndarray, top_k: int, threshold: float, doc_id: str | None
    ) -> list[tuple[str, float]]:
        """(id, cosine) of the best ``top_k`` rows scoring above ``threshold``, best first."""
        rows = self._candidate_rows(doc_id)
        matrix = self._matrix[: len(self._ids)] if rows is None else self._matrix[rows]
        if top_k <= 0 or len(matrix) == 0:
            return []
        scores = matrix @ query
        best = _top_k(scores, top_k)
        best = best[scores[best] > threshold]
        if rows is not None:
            return [(self._ids[rows[i]], float(scores[i])) for i in best]
        return [(self._ids[i], float(scores[i])) for i in best]

    def similarities(self, ids: list[str], query: np.ndarray) -> dict[str, float]:
        """Cosine of the unit ``query`` with each stored row of ``ids`` (absent ids left out)."""
        present = [i for i in dict.fromkeys(ids) if i in self._rows]
        rows = np.fromiter((self._rows[i] for i in present), dtype=np.int64, count=len(present))
        scores = self._matrix[rows] @ query
        return dict(zip(present, scores.tolist(), strict=True))

    def _candidate_rows(self, doc_id: str | None) -> np.ndarray | None:
        if doc_id is None:
            return None
        members = self._doc_members.get(doc_id, ())
        return np.fromiter((self._rows[i] for i in members), dtype=np.int64, count=len(members))

    def _set_doc(self, vector_id: str, doc_id: str | None) -> None:
        previous = self._doc_of.pop(vector_id, None)
        if previous is not None:
            members = self._doc_members[previous]
            members.discard(vector_id)
            if not members:
                del self._doc_members[previous]
        if doc_id is not None:
            self._doc_of[vector_id] = doc_id
            self._doc_members.setdefault(doc_id, set()).add(vector_id)

    def reserve(self, size: int) -> None:
        """Make room for ``size`` rows (at least doubling when it must grow)."""
        capacity = len(self._matrix)
        if size <= capacity:
            return
        grown = np.empty((max(size, 2 * capacity, _MIN_CAPACITY), self.dim), dtype=np.float32)
        grown[:capacity] = self._matrix
        self._matrix = grown


def _top_k(scores: np.ndarray, top_k: int) -> np.ndarray:
    """Indices of the ``top_k`` highest scores, highest first."""
    if top_k < len(scores):
        candidates = np.argpartition(-scores, top_k - 1)[:top_k]
    else:
        candidates = np.arange(len(scores))
    return candidates[np.argsort(-scores[candidates], kind="stable")]
