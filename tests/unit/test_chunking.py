"""Token-window chunking with the shipped o200k_base encoding."""

from __future__ import annotations

import pytest

from lambdarag.indexing.chunking import ChunkingError, chunk_text
from lambdarag.llm import tokenizer


def test_token_counts_match_o200k_base() -> None:
    # reference counts from OpenAI's o200k_base
    assert tokenizer.count_tokens("Hello world, this is LambdaRAG.") == 9
    assert tokenizer.count_tokens("") == 0
    assert tokenizer.decode(tokenizer.encode("naïve café 北京")) == "naïve café 北京"


def test_windows_overlap_by_the_configured_tokens() -> None:
    text = " ".join(f"word{i}" for i in range(500))
    chunks = chunk_text(text, chunk_size=100, overlap=20)
    assert [c["chunk_order_index"] for c in chunks] == list(range(len(chunks)))
    assert all(c["tokens"] <= 100 for c in chunks)
    first, second = (c["content"].split() for c in chunks[:2])
    shared = [w for w in second if w in first]
    assert 5 <= len(shared) <= 20  # about 20 tokens of overlap, a few words here
    assert second[: len(shared)] == shared  # the overlap opens the next chunk
    covered = tokenizer.count_tokens(text)
    assert len(chunks) == -(-(covered - 20) // 80)


def test_short_text_is_one_chunk_and_blank_text_none() -> None:
    assert [c["content"] for c in chunk_text("  A short note.  ")] == ["A short note."]
    assert chunk_text("   ") == []


def test_split_by_character_windows_only_oversized_pieces() -> None:
    text = "alpha beta\n\n" + " ".join(["gamma"] * 300) + "\n\ndelta"
    chunks = chunk_text(text, chunk_size=100, overlap=10, split_by_character="\n\n")
    assert chunks[0]["content"] == "alpha beta"
    assert chunks[-1]["content"] == "delta"
    assert len(chunks) > 3
    with pytest.raises(ChunkingError, match="exceeds the chunk size"):
        chunk_text(text, chunk_size=100, overlap=10, split_by_character="\n\n", split_by_character_only=True)


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ChunkingError):
        chunk_text("text", chunk_size=10, overlap=10)
