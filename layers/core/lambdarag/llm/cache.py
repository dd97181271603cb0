"""The LLM response cache and call accounting, in front of an LLM binding.

Keys follow LightRAG's ``<mode>:<cache_type>:<md5>`` scheme and records its
``{return, cache_type, chunk_id, original_prompt}`` shape, so a retried step or a
rebuilt entity never pays for the same call twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from lambdarag.llm import tokenizer
from lambdarag.llm.base import ChatMessage, LLMBinding
from lambdarag.storage.base import KVStorage
from lambdarag.utils import mdhash


@dataclass
class LLMUsage:
    """Counters for one workspace's LLM traffic (reported by /health and the bench)."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, other: dict[str, int]) -> None:
        for name, value in other.items():
            if name in self.__dict__ and isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)

    def shares(self, parts: int) -> list[LLMUsage]:
        """This usage cut into ``parts`` whole-number shares that sum back to it exactly."""
        shares = [LLMUsage() for _ in range(parts)]
        for name, value in self.__dict__.items():
            base, extra = divmod(value, parts)
            for i, share in enumerate(shares):
                setattr(share, name, base + (i < extra))
        return shares


# The counters of the work in progress (a pipeline step of one document), besides the
# workspace's: tasks started inside ``counting_usage`` inherit the same object.
_current: ContextVar[LLMUsage | None] = ContextVar("lambdarag_llm_usage", default=None)


@contextmanager
def counting_usage() -> Iterator[LLMUsage]:
    """Count the LLM traffic of the code run inside the block (and the tasks it starts)."""
    usage = LLMUsage()
    token = _current.set(usage)
    try:
        yield usage
    finally:
        _current.reset(token)


class CachedLLM:
    """An LLM binding with a KV-backed response cache and usage counters."""

    def __init__(self, llm: LLMBinding, cache: KVStorage) -> None:
        self.llm = llm
        self.cache = cache
        self.usage = LLMUsage()

    def cache_key(
        self,
        cache_type: str,
        prompt: str,
        *,
        mode: str = "default",
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> str:
        material = json.dumps(
            [self.llm.identity, system_prompt or "", list(history), prompt], ensure_ascii=False
        )
        return f"{mode}:{cache_type}:{mdhash(material)}"

    async def complete(
        self,
        prompt: str,
        *,
        cache_type: str,
        use_cache: bool,
        mode: str = "default",
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
        json_mode: bool = False,
        chunk_id: str | None = None,
        key: str | None = None,
    ) -> tuple[str, str]:
        """Answer ``prompt``, from the cache when allowed; returns (text, cache key)."""
        key = key or self.cache_key(
            cache_type, prompt, mode=mode, system_prompt=system_prompt, history=history
        )
        if use_cache:
            hit = await self.cache.get_by_id(key)
            if hit is not None and isinstance(hit.get("return"), str):
                for usage in self._counters():
                    usage.cache_hits += 1
                return hit["return"], key
        text = await self.llm.complete(
            prompt, system_prompt=system_prompt, history=history, json_mode=json_mode
        )
        self._count(prompt, system_prompt, history, text)
        if use_cache:
            record = {"return": text, "cache_type": cache_type, "chunk_id": chunk_id,
                      "original_prompt": prompt}
            await self.cache.upsert({key: record})
        return text, key

    async def stream(
        self,
        prompt: str,
        *,
        system_prompt: str | None = None,
        history: Sequence[ChatMessage] = (),
    ) -> AsyncIterator[str]:
        """Stream an answer (never cached); counts tokens when the stream ends."""
        parts: list[str] = []
        async for delta in self.llm.stream(prompt, system_prompt=system_prompt, history=history):
            parts.append(delta)
            yield delta
        self._count(prompt, system_prompt, history, "".join(parts))

    def _counters(self) -> list[LLMUsage]:
        current = _current.get()
        return [self.usage] if current is None else [self.usage, current]

    def _count(
        self, prompt: str, system: str | None, history: Sequence[ChatMessage], text: str
    ) -> None:
        sent = [prompt, system or "", *(m["content"] for m in history)]
        spent = {"calls": 1, "prompt_tokens": sum(tokenizer.count_tokens(s) for s in sent),
                 "completion_tokens": tokenizer.count_tokens(text)}
        for usage in self._counters():
            usage.add(spent)
