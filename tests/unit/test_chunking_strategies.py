"""The chunking strategies' pure parts: breakpoints, reference sections, section meta."""

from __future__ import annotations

import numpy as np
import pytest

from lambdarag.indexing.strategies import (
    ChunkerDefaults,
    ChunkingConfigError,
    _breakpoints,
    chunk_document,
    drop_references,
    resolve,
)

# One clear jump (index 5) among small distances; 11 distances in all.
DISTANCES = np.array([0.01, 0.02, 0.01, 0.03, 0.02, 0.9, 0.02, 0.01, 0.03, 0.02, 0.01])


@pytest.mark.parametrize("kind", ["percentile", "standard_deviation", "interquartile"])
def test_every_threshold_type_finds_the_one_jump(kind: str) -> None:
    assert _breakpoints(DISTANCES, kind, None) == [5]


def test_the_gradient_threshold_finds_where_the_distance_climbs() -> None:
    assert _breakpoints(DISTANCES, "gradient", None) == [4]


def test_a_lower_percentile_cuts_more_often() -> None:
    assert _breakpoints(DISTANCES, "percentile", 50.0) == [3, 5, 8]  # above the median


def test_an_unknown_threshold_type_is_a_configuration_error() -> None:
    with pytest.raises(ChunkingConfigError, match="breakpoint_threshold_type 'median'"):
        _breakpoints(DISTANCES, "median", None)


PAPER = "# Study\n\nCranes lift.\n\n## References\n\n[1] Old book.\n\n## Appendix\n\nTables."


def test_a_markdown_references_section_ends_at_the_next_heading_of_its_level() -> None:
    assert drop_references(PAPER, ["References"]) == "# Study\n\nCranes lift.\n\n## Appendix\n\nTables."


def test_a_plain_references_line_drops_the_rest_and_other_languages_match_as_prefix() -> None:
    assert drop_references("Body text.\n\nBibliography:\n[1] X.", ["Bibliography"]) == "Body text."
    assert drop_references("正文。\n\n参考文献\n[1] 书。", ["参考文献"]) == "正文。"
    assert drop_references("The references we used were good.", ["References"]) == (
        "The references we used were good.")  # a sentence, not a heading


def test_the_tail_window_ignores_a_heading_early_in_the_document() -> None:
    text = "References\nearly list\n\nBody one.\n\nBody two.\n\nBody three."
    assert drop_references(text, ["References"], tail_n=2) == text
    assert drop_references(text, ["References"], tail_n=0) == ""


def test_resolve_freezes_the_request_over_the_server_defaults() -> None:
    defaults = ChunkerDefaults({"recursive_character": {"chunk_token_size": 500,
                                                        "separators": ["\n\n", ""]}})
    frozen = resolve("recursive_character", {"chunk_overlap_token_size": 10}, defaults)
    assert frozen == {"process_options": "R", "chunk_options": {
        "chunk_token_size": 500, "recursive_character": {
            "separators": ["\n\n", ""], "chunk_overlap_token_size": 10}}}
    with pytest.raises(ChunkingConfigError, match="must be < chunk_token_size"):
        resolve("fixed_token", {"chunk_token_size": 50}, ChunkerDefaults(chunk_overlap=100))


async def test_pages_stay_with_the_chunks_of_every_strategy() -> None:
    sections = [(f"Page {n} says crane {n} lifted {n} tonnes. " * 20, {"page": n}) for n in (1, 2, 3)]

    async def no_embedding(texts: list[str]) -> np.ndarray:
        raise AssertionError("recursive chunking embeds nothing")

    chunked = await chunk_document(
        sections, "R", {"chunk_token_size": 300, "recursive_character": {
            "chunk_overlap_token_size": 0}}, ChunkerDefaults(), embed=no_embedding)
    chunks = chunked.chunks
    assert (chunked.method, chunked.options) == ("recursive_character", "size=300, overlap=0")
    assert [c.get("pages") for c in chunks] == [[1], [2], [3]]
    assert [c["chunk_order_index"] for c in chunks] == [0, 1, 2]
