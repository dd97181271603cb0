"""QueryParam and QueryResult: the engine's query request and answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lambdarag.llm.base import ChatMessage

Mode = Literal["local", "global", "hybrid", "naive", "mix", "bypass"]
MODES: tuple[str, ...] = ("local", "global", "hybrid", "naive", "mix", "bypass")
TOO_SHORT = (
    "RAG query is too short. Enter at least 3 English characters or an equivalent combination "
    "where each Chinese, Japanese or Korean character counts as 2."
)


def english_weight(text: str) -> int:
    """Characters, with each CJK/Hangul/Kana character counting 2 (a RAG query needs 3)."""
    return sum(2 if _is_cjk(ch) else 1 for ch in text if not ch.isspace())


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
            or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF)


@dataclass(frozen=True)
class QueryParam:
    """One query's options; ``None`` numbers mean "the server default" (TOP_K etc.)."""

    mode: Mode = "mix"
    only_need_context: bool = False
    only_need_prompt: bool = False
    response_type: str = "Multiple Paragraphs"
    stream: bool = False
    top_k: int | None = None
    chunk_top_k: int | None = None
    max_entity_tokens: int | None = None
    max_relation_tokens: int | None = None
    max_total_tokens: int | None = None
    hl_keywords: tuple[str, ...] = ()
    ll_keywords: tuple[str, ...] = ()
    conversation_history: tuple[ChatMessage, ...] = ()
    user_prompt: str | None = None
    disable_user_prompt_prefix: bool = False
    enable_rerank: bool | None = None  # None: RERANK_BY_DEFAULT
    # Answer from these documents' chunks only (a chat about one file): naive retrieval
    # over their chunks, whatever the mode.
    doc_ids: tuple[str, ...] = ()
    include_references: bool = False


@dataclass
class Retrieval:
    """What retrieval found, before the LLM: the structured data and the context text."""

    entities: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    references: list[dict[str, Any]] = field(default_factory=list)
    high_level_keywords: list[str] = field(default_factory=list)
    low_level_keywords: list[str] = field(default_factory=list)
    processing_info: dict[str, int] = field(default_factory=dict)
    context: str = ""

@dataclass
class QueryResult:
    """An answer: a whole string or a stream of deltas, plus its references."""

    response: str | None = None
    stream: AsyncIterator[str] | None = None
    references: list[dict[str, Any]] = field(default_factory=list)
    llm_generated: bool = True
    retrieval: Retrieval | None = None
