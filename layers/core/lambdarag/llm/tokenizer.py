"""Token counting with tiktoken's o200k_base (the gpt-4o-mini encoding), offline.

tiktoken normally downloads its BPE file on first use; neither this project's CI nor
a Lambda inside a VPC has that network. The file ships gzipped in ``assets/`` and is
checked against the sha256 tiktoken itself expects.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

_O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    """The o200k_base encoding, loaded once per process from the shipped file."""
    import tiktoken

    raw = gzip.decompress(
        resources.files("lambdarag.assets").joinpath("o200k_base.tiktoken.gz").read_bytes()
    )
    if hashlib.sha256(raw).hexdigest() != _O200K_SHA256:
        raise RuntimeError("lambdarag/assets/o200k_base.tiktoken.gz is corrupt; reinstall lambdarag")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    return tiktoken.Encoding(
        name="o200k_base",
        pat_str=_O200K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    )


def encode(text: str) -> list[int]:
    return encoding().encode(text, disallowed_special=())


def decode(tokens: list[int]) -> str:
    return encoding().decode(tokens)


def window_starts(count: int, size: int, overlap: int) -> range:
    """Where windows of ``size`` tokens overlapping by ``overlap`` start in ``count`` tokens
    (one window when they fit); chunking and rerank windows both cut this way."""
    return range(0, max(count - overlap, 1), size - overlap)


def count_tokens(text: str) -> int:
    """Number of o200k_base tokens in ``text`` (special-token text counts as plain text).

    Queries count the same entity, relation and chunk lines again and again (the budget
    cuts, query after query), so the counts of recent short texts are remembered.
    """
    if not text:
        return 0
    if len(text) > _CACHED_TEXT_LIMIT:
        return len(encode(text))
    return _cached_count(text)


_CACHED_TEXT_LIMIT = 2048  # characters (at most 16 MB remembered); longer texts are counted afresh


@lru_cache(maxsize=8192)
def _cached_count(text: str) -> int:
    return len(encode(text))
