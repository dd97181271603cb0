"""Fixed token-window chunking with tiktoken.

Structured documents (pdf pages, pptx slides, xlsx sheets) are chunked as one token
stream made of their sections, so a chunk may span sections; each chunk records the
sections it overlaps (``"pages": [3, 4]``, ``"slides": [2]``, ``"sheets": ["Sales"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

from lambdarag.errors import LambdaRAGError
from lambdarag.indexing.parse import SECTION_SEPARATOR
from lambdarag.llm import tokenizer

# section meta key -> chunk (and reference) key listing the sections a chunk covers
SECTION_META_KEYS = {"page": "pages", "slide": "slides", "sheet": "sheets"}
CHUNK_META_KEYS = tuple(SECTION_META_KEYS.values())


class ChunkingError(LambdaRAGError, ValueError):
    """The text cannot be chunked with the requested options."""


class Chunk(TypedDict):
    tokens: int
    content: str
    chunk_order_index: int
    pages: NotRequired[list[int]]
    slides: NotRequired[list[int]]
    sheets: NotRequired[list[str]]


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
    return [
        tokenizer.decode(tokens[start : start + size]).strip()
        for start in tokenizer.window_starts(len(tokens), size, overlap)
    ]


def chunk_sections(
    sections: Sequence[tuple[str, dict[str, Any]]],
    *,
    chunk_size: int = 1200,
    overlap: int = 100,
) -> list[Chunk]:
    """Chunk a document given as sections ``(text, meta)``, keeping section meta per chunk.

    The token stream is the sections joined by a blank line (the same text as
    ``parse.join_sections``), windowed like :func:`chunk_text`. A single section
    without meta is plain text and is chunked exactly by :func:`chunk_text`.
    """
    if len(sections) == 1 and not sections[0][1]:
        return chunk_text(sections[0][0], chunk_size=chunk_size, overlap=overlap)
    if overlap >= chunk_size:
        raise ChunkingError("chunk overlap must be smaller than the chunk size")
    tokens, spans = _encode_sections(sections)
    chunks: list[Chunk] = []
    for start in tokenizer.window_starts(len(tokens), chunk_size, overlap):
        end = start + chunk_size
        content = tokenizer.decode(tokens[start:end]).strip()
        if not content:
            continue
        chunk = Chunk(tokens=tokenizer.count_tokens(content), content=content,
                      chunk_order_index=len(chunks))
        chunk.update(covered_meta(spans, start, end))  # type: ignore[typeddict-item]
        chunks.append(chunk)
    return chunks


Span = tuple[int, int, dict[str, Any]]


def _encode_sections(sections: Sequence[tuple[str, dict[str, Any]]]) -> tuple[list[int], list[Span]]:
    """All sections' tokens with separators between, and each section's token span."""
    separator = tokenizer.encode(SECTION_SEPARATOR)
    tokens: list[int] = []
    spans: list[Span] = []
    for index, (text, meta) in enumerate(sections):
        if index:
            tokens.extend(separator)
        start = len(tokens)
        tokens.extend(tokenizer.encode(text))
        spans.append((start, len(tokens), meta))
    return tokens, spans


def covered_meta(spans: list[Span], start: int, end: int) -> dict[str, list[Any]]:
    """Unique section values (pages, slides, sheets), in document order, of spans in [start, end)."""
    found: dict[str, list[Any]] = {}
    for first, last, meta in spans:
        if first < last and first < end and last > start:
            for key, value in meta.items():
                name = SECTION_META_KEYS.get(key)
                if name and value not in found.setdefault(name, []):
                    found[name].append(value)
    return found
