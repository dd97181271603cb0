"""Fixed token-window chunking with tiktoken (contract §9.2, step 2)."""

from __future__ import annotations

from typing import TypedDict

from lambdarag import tokenizer


class ChunkingError(ValueError):
    """The text cannot be chunked with the requested options."""


class Chunk(TypedDict):
    tokens: int
    content: str
    chunk_order_index: int


def chunk_text(
    text: str,
    *,
    chunk_size: int = 1200,
    overlap: int = 100,
    split_by_character: str | None = None,
    split_by_character_only: bool = False,
) -> list[Chunk]:
    """Split ``text`` into windows of ``chunk_size`` tokens overlapping by ``overlap``.

    With ``split_by_character`` the text is cut on that string first and only pieces
    longer than ``chunk_size`` are windowed (or rejected, with ``split_by_character_only``).
    Empty pieces are dropped; order indexes are consecutive from 0.
    """
    if overlap >= chunk_size:
        raise ChunkingError("chunk overlap must be smaller than the chunk size")
    pieces = text.split(split_by_character) if split_by_character else [text]
    contents: list[str] = []
    for piece in pieces:
        tokens = tokenizer.encode(piece)
        if len(tokens) <= chunk_size:
            contents.append(piece.strip())
            continue
        if split_by_character and split_by_character_only:
            raise ChunkingError(
                f"a piece of {len(tokens)} tokens exceeds the chunk size of {chunk_size} "
                "and splitting by character only was requested"
            )
        contents.extend(_windows(tokens, chunk_size, overlap))
    chunks: list[Chunk] = []
    for content in contents:
        if content:
            chunks.append(
                Chunk(
                    tokens=tokenizer.count_tokens(content),
                    content=content,
                    chunk_order_index=len(chunks),
                )
            )
    return chunks


def _windows(tokens: list[int], size: int, overlap: int) -> list[str]:
    stride = size - overlap
    return [
        tokenizer.decode(tokens[start : start + size]).strip()
        for start in range(0, max(len(tokens) - overlap, 1), stride)
    ]
