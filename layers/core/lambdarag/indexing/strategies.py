"""Chunking strategies, chosen per document as LightRAG 1.5 chooses them.

A document is chunked by one strategy, named by a selector letter (``process_options``)
and frozen with its parameters when the document is enqueued (``chunk_options``, in the
``full_docs`` record), so a later change of the server's defaults never re-chunks a
document half-way:

======================  ======  ==============================================================
strategy                letter  what it does
======================  ======  ==============================================================
``fixed_token``         F       token windows of ``chunk_token_size`` overlapping by
                                ``chunk_overlap_token_size``, optionally cut on
                                ``split_by_character`` first (the default; ``chunking.py``)
``recursive_character`` R       LangChain's recursive splitter with token lengths: paragraphs,
                                then lines, sentences (CJK), clauses, words, characters
``semantic_vector``     V       sentences embedded with their ``buffer_size`` neighbours; a
                                chunk ends where the distance between neighbours crosses the
                                ``breakpoint_threshold_type`` threshold; an oversized chunk
                                is split recursively
``paragraph_semantic``  P       recursive splitting at a larger size (``CHUNK_P_SIZE``, 2,000),
                                as LightRAG does for a document without a heading-block
                                sidecar; ``drop_references`` removes a References section first
``custom``              C       LightRAG's hook for a chunking function given in code; a server
                                has none, so requests naming it are refused
======================  ======  ==============================================================

The snapshot has LightRAG's shape: ``{"chunk_token_size": n, "<strategy>": {params}}``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lambdarag.indexing.chunking import (
    Chunk,
    ChunkingError,
    chunk_sections,
    chunk_text,
    covered_meta,
)
from lambdarag.indexing.parse import SECTION_SEPARATOR, join_sections
from lambdarag.indexing.parse import hint_options as parse_hint_options
from lambdarag.llm import tokenizer

SELECTORS = {"F": "fixed_token", "R": "recursive_character", "V": "semantic_vector",
             "P": "paragraph_semantic", "C": "custom"}
LETTERS = {strategy: letter for letter, strategy in SELECTORS.items()}
STRATEGIES = tuple(SELECTORS.values())
# LightRAG's cascade: paragraph, line, CJK sentence ends and clauses, word, character. The
# English full stop is left out on purpose: a literal "." would also cut "0.95" and "e.g.".
DEFAULT_SEPARATORS = ("\n\n", "\n", "。", "！", "？", "；", "，", " ", "")
MAX_SEPARATORS = 64
MAX_SEPARATOR_CHARS = 256
DEFAULT_SENTENCE_SPLIT = r"(?<=[.?!])\s+|(?<=[。？！])"
BREAKPOINT_TYPES = ("percentile", "standard_deviation", "interquartile", "gradient")
# The threshold amount each breakpoint type means when none is given (LangChain's).
DEFAULT_BREAKPOINT_AMOUNT = {"percentile": 95.0, "standard_deviation": 3.0,
                             "interquartile": 1.5, "gradient": 95.0}
DEFAULT_P_SIZE = 2000
DEFAULT_REFERENCE_HEADINGS = ("References", "Bibliography", "参考文献")
CUSTOM_UNAVAILABLE = ("custom chunking requires a chunking function given in code, and this "
                      "server has none: use fixed_token, recursive_character, semantic_vector "
                      "or paragraph_semantic")

Embed = Callable[[list[str]], Awaitable[Any]]


class ChunkingConfigError(ChunkingError):
    """A chunking request the server cannot follow; LightRAG answers it with 422."""

    http_status = 422

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid chunking configuration: {reason}")


@dataclass(frozen=True)
class ChunkerDefaults:
    """The server's parameters per strategy (``CHUNK_F_*``, ``CHUNK_R_*``, ``CHUNK_V_*``,
    ``CHUNK_P_*``); a strategy without its own size or overlap takes CHUNK_SIZE and
    CHUNK_OVERLAP_SIZE, except paragraph_semantic, whose size defaults to 2,000."""

    strategies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reference_headings: tuple[str, ...] = DEFAULT_REFERENCE_HEADINGS
    references_tail_n: int = 0
    chunk_size: int = 1200  # CHUNK_SIZE
    chunk_overlap: int = 100  # CHUNK_OVERLAP_SIZE

    def of(self, strategy: str) -> dict[str, Any]:
        return dict(self.strategies.get(strategy, {}))


def resolve(strategy: str, params: Mapping[str, Any], defaults: ChunkerDefaults) -> dict[str, Any]:
    """A document's ``process_options`` and ``chunk_options``: the request's ``params`` over
    the server's defaults, frozen. Raises ChunkingConfigError for what cannot be followed."""
    if strategy == "custom":
        raise ChunkingConfigError(CUSTOM_UNAVAILABLE)
    if strategy not in SELECTORS.values():
        raise ChunkingConfigError(f"unknown chunking strategy {strategy!r}; use one of "
                                  + ", ".join(STRATEGIES))
    merged = {**defaults.of(strategy), **{k: v for k, v in params.items() if v is not None}}
    if strategy == "paragraph_semantic":
        merged.setdefault("chunk_token_size", DEFAULT_P_SIZE)
    size = int(merged.pop("chunk_token_size", defaults.chunk_size))
    if strategy != "semantic_vector":
        merged.setdefault("chunk_overlap_token_size", defaults.chunk_overlap)
        if merged["chunk_overlap_token_size"] >= size:
            raise ChunkingConfigError(
                f"chunking for strategy '{strategy}': chunk_overlap_token_size "
                f"({merged['chunk_overlap_token_size']}) must be < chunk_token_size ({size})")
    else:
        kind = merged.setdefault("breakpoint_threshold_type", "percentile")
        amount = merged.get("breakpoint_threshold_amount")
        if amount is not None and kind in ("percentile", "gradient") and amount > 100:
            raise ChunkingConfigError(
                f"chunking for strategy 'semantic_vector': breakpoint_threshold_amount "
                f"must be within (0, 100] for {kind}")
    if strategy == "recursive_character" and "separators" in merged:
        merged["separators"] = bounded_separators(merged["separators"])
    return {"process_options": LETTERS[strategy],
            "chunk_options": {"chunk_token_size": size, strategy: merged}}


def for_hint(file_name: str | None, defaults: ChunkerDefaults, *,
             refuse_custom: bool) -> dict[str, Any]:
    """A document's frozen chunking from its file name's parser hint (``notes.[-R].md``:
    recursive_character with the server's defaults); ``{}`` without a selector letter.

    ``C`` (custom) is refused when a caller can correct it (an upload: 422), and falls back
    to the default fixed_token chunking for a file found by a scan, as LightRAG does."""
    options = parse_hint_options(file_name)
    strategy = strategy_of(options)
    if not any(c in SELECTORS for c in options) or (strategy == "custom" and not refuse_custom):
        return {}
    return resolve(strategy, {}, defaults)


def bounded_separators(separators: Sequence[str] | None) -> list[str] | None:
    """At most 64 separators of at most 256 characters; None (the default) when none is left."""
    kept = [s for s in (separators or []) if len(s) <= MAX_SEPARATOR_CHARS][:MAX_SEPARATORS]
    return kept or None


def strategy_of(process_options: str | None) -> str:
    """The strategy a ``process_options`` string selects (its first selector letter)."""
    for letter in process_options or "":
        if letter in SELECTORS:
            return SELECTORS[letter]
    return "fixed_token"


@dataclass(frozen=True)
class Chunked:
    """A document's chunks and how they were cut, in the words of LightRAG's doc status
    metadata: ``method`` (``recursive_character``) and ``options`` (``size=800, overlap=0``)."""

    chunks: list[Chunk]
    method: str
    options: str


# LightRAG's short names of the parameters in ``chunk_opts``
_SHORT_NAMES = {"chunk_overlap_token_size": "overlap", "breakpoint_threshold_type": "break",
                "breakpoint_threshold_amount": "amount", "buffer_size": "buf",
                "split_by_character": "split_by", "split_by_character_only": "split_only",
                "separators": "seps", "sentence_split_regex": "regex",
                "drop_references": "drop_rf"}


def describe(size: int, params: Mapping[str, Any]) -> str:
    """``size=1200, overlap=100, ...``: the parameters a document was chunked with."""
    shown = [f"size={size}"]
    for key, value in params.items():
        if value is None or (isinstance(value, list | dict | str) and not value):
            continue
        shown.append(f"{_SHORT_NAMES.get(key, key)}={value!r}" if isinstance(value, str)
                     else f"{_SHORT_NAMES.get(key, key)}={value}")
    return ", ".join(shown)


async def chunk_document(
    sections: Sequence[tuple[str, dict[str, Any]]],
    process_options: str | None,
    chunk_options: Mapping[str, Any] | None,
    defaults: ChunkerDefaults,
    *,
    embed: Embed,
) -> Chunked:
    """Chunk a parsed document by its frozen strategy (fixed_token when it has none)."""
    strategy = strategy_of(process_options)
    if strategy == "custom":  # stored by an older release or by hand: LightRAG falls back too
        strategy = "fixed_token"
    if not chunk_options:
        chunk_options = resolve(strategy, {}, defaults)["chunk_options"]
    size = int(chunk_options.get("chunk_token_size") or defaults.chunk_size)
    params = dict(chunk_options.get(strategy) or {})
    size = int(params.pop("chunk_token_size", size))
    overlap = int(params.get("chunk_overlap_token_size", defaults.chunk_overlap))
    if strategy == "fixed_token":
        return Chunked(_fixed(sections, size, overlap, params), strategy, describe(size, params))
    text = whole = join_sections(sections)
    if strategy == "recursive_character":
        contents = recursive_split(text, size, overlap, params.get("separators"))
    elif strategy == "paragraph_semantic":
        if params.get("drop_references"):
            text = drop_references(text, defaults.reference_headings, defaults.references_tail_n)
        contents = recursive_split(text, size, overlap, None)
    else:
        contents = await semantic_split(
            text, size, embed=embed,
            kind=params.get("breakpoint_threshold_type", "percentile"),
            amount=params.get("breakpoint_threshold_amount"),
            buffer_size=int(params.get("buffer_size", 1)),
            sentence_split=params.get("sentence_split_regex") or DEFAULT_SENTENCE_SPLIT)
    return Chunked(_with_meta(whole, contents, sections), strategy, describe(size, params))


def _fixed(sections: Sequence[tuple[str, dict[str, Any]]], size: int, overlap: int,
           params: Mapping[str, Any]) -> list[Chunk]:
    split = params.get("split_by_character")
    if split and len(sections) == 1 and not sections[0][1]:
        return chunk_text(sections[0][0], chunk_size=size, overlap=overlap,
                          split_by_character=split,
                          split_by_character_only=bool(params.get("split_by_character_only")))
    return chunk_sections(sections, chunk_size=size, overlap=overlap)


# ----------------------------------------------------------------------- recursive


def recursive_split(text: str, size: int, overlap: int,
                    separators: Sequence[str] | None) -> list[str]:
    """LangChain's RecursiveCharacterTextSplitter measuring in tokens (o200k_base)."""
    if overlap >= size:
        raise ChunkingError("chunk overlap must be smaller than the chunk size")
    if not text.strip():
        return []
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=max(size, 1), chunk_overlap=max(overlap, 0),
        length_function=tokenizer.count_tokens, strip_whitespace=True,
        separators=list(bounded_separators(separators) or DEFAULT_SEPARATORS))
    return [piece.strip() for piece in splitter.split_text(text) if piece.strip()]


# ------------------------------------------------------------------------ semantic


async def semantic_split(
    text: str, size: int, *, embed: Embed, kind: str = "percentile",
    amount: float | None = None, buffer_size: int = 1,
    sentence_split: str = DEFAULT_SENTENCE_SPLIT,
) -> list[str]:
    """Chunks that end where consecutive sentences' meanings drift apart.

    Each sentence is embedded together with ``buffer_size`` sentences on either side;
    the cosine distance between consecutive windows is compared with a threshold from
    their distribution (``kind``: the ``amount``-th percentile; mean + ``amount``
    standard deviations; mean + ``amount`` interquartile ranges; or the percentile of
    the distances' gradient). A chunk over ``size`` tokens is split recursively.
    """
    import numpy as np

    spans = _sentence_spans(text, sentence_split)
    if len(spans) <= 1:
        groups = [text.strip()] if text.strip() else []
    else:
        windows = [text[spans[max(0, i - buffer_size)][0]:spans[min(len(spans) - 1,
                                                                    i + buffer_size)][1]]
                   for i in range(len(spans))]
        vectors = np.asarray(await embed(windows), dtype=np.float64)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms == 0, 1.0, norms)
        distances = 1.0 - np.sum(unit[:-1] * unit[1:], axis=1)
        cuts = _breakpoints(distances, kind, amount)
        bounds = [0, *[i + 1 for i in cuts], len(spans)]
        groups = [text[spans[a][0]:spans[b - 1][1]].strip() for a, b in itertools.pairwise(bounds)
                  if a < b]
    pieces: list[str] = []
    for group in groups:
        if tokenizer.count_tokens(group) > size:
            pieces.extend(recursive_split(group, size, 0, None))
        elif group:
            pieces.append(group)
    return pieces


def _sentence_spans(text: str, pattern: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each non-blank sentence, cut where ``pattern`` matches."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in [*re.finditer(pattern, text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            left = start + len(piece) - len(piece.lstrip())
            spans.append((left, start + len(piece.rstrip())))
        if match:
            start = max(match.end(), end)
    return spans


def _breakpoints(distances: Any, kind: str, amount: float | None) -> list[int]:
    """Indexes i where the chunk ends after sentence i."""
    import numpy as np

    if kind not in BREAKPOINT_TYPES:
        raise ChunkingConfigError(f"unknown breakpoint_threshold_type {kind!r}; use one of "
                                  + ", ".join(BREAKPOINT_TYPES))
    amount = DEFAULT_BREAKPOINT_AMOUNT[kind] if amount is None else float(amount)
    if not math.isfinite(amount) or amount <= 0:
        raise ChunkingConfigError("breakpoint_threshold_amount must be a finite number > 0")
    values = distances
    if kind == "percentile":
        threshold = float(np.percentile(distances, amount))
    elif kind == "standard_deviation":
        threshold = float(np.mean(distances) + amount * np.std(distances))
    elif kind == "interquartile":
        q1, q3 = np.percentile(distances, [25, 75])
        threshold = float(np.mean(distances) + amount * (q3 - q1))
    else:
        values = np.gradient(distances) if len(distances) > 1 else distances
        threshold = float(np.percentile(values, amount))
    return [int(i) for i in np.flatnonzero(values > threshold)]


# ---------------------------------------------------------------------- references


_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def drop_references(text: str, headings: Sequence[str], tail_n: int = 0) -> str:
    """``text`` without its reference section: from a line whose heading starts with one
    of ``headings`` (an English word case-insensitively and whole, others as a prefix) to
    the next heading of the same or a higher level, or to the end. With ``tail_n`` > 0
    only a heading among the last ``tail_n`` paragraphs counts."""
    lines = text.split("\n")
    paragraph_of = _paragraph_numbers(lines)
    last = paragraph_of[-1] if paragraph_of else 0
    for index, line in enumerate(lines):
        level = _reference_level(line, headings)
        if level is None or (tail_n > 0 and paragraph_of[index] <= last - tail_n):
            continue
        end = next((j for j in range(index + 1, len(lines))
                    if (m := _MARKDOWN_HEADING.match(lines[j])) and len(m[1]) <= level),
                   len(lines))
        return "\n".join(lines[:index] + lines[end:]).strip()
    return text


def _reference_level(line: str, headings: Sequence[str]) -> int | None:
    """The heading level of a reference heading line (7 for a plain line), else None."""
    marked = _MARKDOWN_HEADING.match(line)
    title = (marked[2] if marked else line).strip().rstrip(":：").strip()
    if not title or len(title) > 80:
        return None
    for heading in headings:
        if heading.isascii():
            if re.match(rf"{re.escape(heading)}\b", title, re.IGNORECASE):
                break
        elif title.startswith(heading):
            break
    else:
        return None
    if marked:
        return len(marked[1])
    return 7 if len(title.split()) <= 4 else None  # a plain heading line: to the next heading


def _paragraph_numbers(lines: list[str]) -> list[int]:
    numbers, current, blank = [], 0, True
    for line in lines:
        if line.strip() and blank:
            current += 1
        blank = not line.strip()
        numbers.append(current)
    return numbers


# ------------------------------------------------------------------- section meta


def _with_meta(text: str, contents: list[str],
               sections: Sequence[tuple[str, dict[str, Any]]]) -> list[Chunk]:
    """Chunks of ``contents`` (found in ``text``, the whole document, in order) with the
    pages, slides or sheets of the sections each one overlaps."""
    spans = _section_spans(sections)
    chunks: list[Chunk] = []
    cursor = 0
    for content in contents:
        start = text.find(content[:200], cursor)
        if start < 0:
            start = text.find(content[:200])
        end = start + len(content) if start >= 0 else -1
        chunk = Chunk(tokens=tokenizer.count_tokens(content), content=content,
                      chunk_order_index=len(chunks))
        if start >= 0:
            chunk.update(covered_meta(spans, start, end))  # type: ignore[typeddict-item]
            cursor = start + 1
        chunks.append(chunk)
    return chunks


def _section_spans(sections: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[int, int, dict[str, Any]]]:
    spans = []
    position = 0
    for index, (section, meta) in enumerate(sections):
        if index:
            position += len(SECTION_SEPARATOR)
        spans.append((position, position + len(section), meta))
        position += len(section)
    return spans
