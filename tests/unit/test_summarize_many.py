"""Shared summaries: keys that need the LLM share calls, and none is lost to a short answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from lambdarag.indexing.summarize import (
    SummaryOptions,
    SummaryRequest,
    summarize_descriptions,
    summarize_many,
)
from lambdarag.llm.base import ChatMessage, LLMBinding, LLMConfig
from lambdarag.llm.cache import CachedLLM
from lambdarag.storage.embedded.factory import EmbeddedStorageFactory
from tests.fakes import brain


class BrainLLM(LLMBinding):
    """The fake provider's answers in-process; ``drop`` names keys a shared answer omits."""

    def __init__(self, drop: frozenset[str] = frozenset(), garble: bool = False) -> None:
        self.config = LLMConfig(binding="fake", model="brain", host="")
        self.prompts: list[str] = []
        self.drop = drop
        self.garble = garble

    async def _complete(self, messages: list[ChatMessage], *, json_mode: bool) -> str:
        system_prompt = next((m["content"] for m in messages if m["role"] == "system"), None)
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        answer = brain.respond(system_prompt, [{"role": "user", "content": prompt}])
        if "---Descriptions by name---" in prompt:
            if self.garble:
                return "Sorry, here are the summaries: none"
            found = json.loads(answer)
            answer = json.dumps({k: v for k, v in found.items() if k not in self.drop})
        return answer

    def _stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def requests() -> list[SummaryRequest]:
    made = [SummaryRequest("entity", f"Person {i}",
                           [f"Person {i} met someone in City {j}. More." for j in range(8)])
            for i in range(10)]
    made += [SummaryRequest("relation", f"Person {i} - City {i}",
                            [f"Person {i} lived in City {i} in year {j}." for j in range(9)])
             for i in range(3)]
    made += [SummaryRequest("entity", "Quiet", ["Quiet is small.", "Quiet is calm."])]
    return made


async def cached(llm: LLMBinding, tmp_path: Any) -> CachedLLM:
    factory = EmbeddedStorageFactory(tmp_path, "")
    return CachedLLM(llm, factory.kv("llm_response_cache"))


async def test_keys_that_need_the_llm_share_calls_and_say_the_same(tmp_path: Any) -> None:
    options = SummaryOptions(use_cache=False)
    shared_llm = BrainLLM()
    # WHEN 13 keys need a summary and one does not
    shared = await summarize_many(requests(), llm=await cached(shared_llm, tmp_path / "a"),
                                  options=options)
    # THEN 3 calls serve them: two groups of at most 8 entities, one of relations
    assert len(shared_llm.prompts) == 3
    assert all("---Descriptions by name---" in p for p in shared_llm.prompts)
    # AND every key reads as it would with a call of its own
    alone_llm = await cached(BrainLLM(), tmp_path / "b")
    for request, (text, used) in zip(requests(), shared, strict=True):
        assert (text, used) == await summarize_descriptions(
            request.kind, request.name, request.descriptions, llm=alone_llm, options=options)
    assert shared[-1] == ("Quiet is small.<SEP>Quiet is calm.", False)


async def test_a_key_the_answer_omits_is_summarised_alone(tmp_path: Any) -> None:
    llm = BrainLLM(drop=frozenset({"Person 3"}))
    found = await summarize_many(requests()[:8], llm=await cached(llm, tmp_path),
                                 options=SummaryOptions(use_cache=False))
    assert found[3] == ("Person 3 (summary): Person 3 met someone in City 0. "
                        + " ".join(f"Person 3 met someone in City {j}." for j in range(1, 8)),
                        True)
    assert [("---Descriptions---" in p) for p in llm.prompts] == [False, True]


async def test_an_unreadable_answer_falls_back_to_one_call_per_key(tmp_path: Any) -> None:
    llm = BrainLLM(garble=True)
    found = await summarize_many(requests()[:3], llm=await cached(llm, tmp_path),
                                 options=SummaryOptions(use_cache=False))
    assert [text.startswith(f"Person {i} (summary)") for i, (text, _) in enumerate(found)] == [
        True] * 3
    assert len(llm.prompts) == 4


async def test_batch_size_one_is_lightrags_one_call_per_key(tmp_path: Any) -> None:
    llm = BrainLLM()
    await summarize_many(requests(), llm=await cached(llm, tmp_path),
                         options=SummaryOptions(use_cache=False, summary_batch_size=1))
    assert len(llm.prompts) == 13
    assert not any("---Descriptions by name---" in p for p in llm.prompts)


class SlowLLM(BrainLLM):
    """The brain's answers after a pause; records how many calls were in flight at most."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = self.most = 0

    async def complete(self, prompt: str, **kwargs: Any) -> str:
        import asyncio

        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().complete(prompt, **kwargs)
        finally:
            self.in_flight -= 1


async def test_a_key_too_large_for_one_prompt_summarises_its_groups_at_once(
    tmp_path: Any,
) -> None:
    # GIVEN one entity whose 40 descriptions fill about four prompts of 300 tokens
    descriptions = [f"Ada Byron wrote note {i} on the engine, " + "with many details " * 12
                    for i in range(40)]
    options = SummaryOptions(summary_context_size=300, use_cache=False)
    llm = SlowLLM()

    # WHEN it is summarised
    text, used = await summarize_descriptions("entity", "Ada Byron", descriptions,
                                              llm=await cached(llm, tmp_path), options=options)

    # THEN the groups of the first level were asked at the same time, then reduced
    assert used and text
    assert len(llm.prompts) > 4
    assert llm.most >= 4
