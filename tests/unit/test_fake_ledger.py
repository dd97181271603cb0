"""The fake provider's ledger: calls by kind and size, slot occupancy, and LightRAG's formats."""

from __future__ import annotations

import base64
import json
import statistics
import struct
import time
from collections.abc import Iterator

import httpx
import pytest

from lambdarag.llm.prompts import COMPLETION_DELIMITER, ENTITY_EXTRACTION_USER, TUPLE_DELIMITER
from tests.fakes import brain
from tests.fakes.ledger import (
    Call,
    busy_fraction,
    covered_seconds,
    in_flight_seconds,
    peak_in_flight,
    tally,
)
from tests.fakes.llm_server import FakeLLMServer

TEXT = "Alice Smith founded Acme Corp in Springfield. Bob Jones met Alice Smith at NASA."

# Prompts shaped like LightRAG 1.5.x's, reduced to the markers the brain keys on.
LIGHTRAG_EXTRACTION = f"---Task---\nExtract.\n\n---Input Text---\n```\n{TEXT}\n```\n\n---Output---\n"
LIGHTRAG_GLEANING = "---Task---\nBased on the last extraction task, extract what was missed.\n"
LIGHTRAG_SUMMARY = (
    "---Task---\nSummarise.\n\n---Input---\nEntity Name: Acme Corp\n\nDescription List:\n\n```\n"
    + "\n".join(json.dumps({"Description": d}) for d in
                ("Acme Corp makes anvils. It is old.", "Acme Corp is in Springfield."))
    + "\n```\n\n---Output---\n"
)
LIGHTRAG_KEYWORDS = (
    '---Output Format Template---\n{"high_level_keywords": [], "low_level_keywords": []}\n\n'
    "---Real Data---\nUser Query: How did Alice Smith influence manufacturing at Acme Corp?\n\n"
    "---Output---\nOutput:"
)


def call(start: float, end: float | None, kind: str = "extraction", **sizes: int) -> Call:
    return Call("/v1/chat/completions", start, kind, end, **sizes)


def test_in_flight_integral_and_busy_fraction_clip_to_the_window() -> None:
    # GIVEN two overlapping calls and one still in flight
    calls = [call(0, 2), call(1, 3), call(4, None)]
    # WHEN measured over [1, 5]
    # THEN each call counts only inside the window, the open one up to its end
    assert in_flight_seconds(calls, 1, 5) == pytest.approx(1 + 2 + 1)
    assert busy_fraction(calls, 1, 5, slots=2) == pytest.approx(4 / 8)
    assert busy_fraction(calls, 5, 5, slots=2) == 0.0


def test_covered_seconds_count_overlaps_once() -> None:
    calls = [call(0, 2), call(1, 3), call(5, 6)]
    assert covered_seconds(calls, 0, 10) == pytest.approx(4)
    assert covered_seconds(calls, 2.5, 5.5) == pytest.approx(1)


def test_peak_counts_an_end_before_a_start_at_the_same_instant() -> None:
    assert peak_in_flight([call(0, 1), call(1, 2), call(0.5, 1.5)]) == 2


def test_tally_separates_chat_from_embedding() -> None:
    calls = [call(0, 1, "extraction", prompt_chars=10), call(0, 1, "summary", prompt_chars=5),
             call(0, 1, "embedding", texts=7), call(0, 1, "other")]
    assert tally(calls) == {"embedding": 1, "extraction": 1, "other": 1, "summary": 1,
                            "chat_calls": 2, "embedding_requests": 1, "embedded_texts": 7,
                            "prompt_chars": 15}


def test_lightrag_extraction_and_gleaning_use_the_shared_record_format() -> None:
    # GIVEN LightRAG's extraction turn, answered
    first = [{"role": "user", "content": LIGHTRAG_EXTRACTION}]
    assert brain.classify("system", first) == "extraction"
    answer = brain.respond("system", first)
    assert answer.endswith(COMPLETION_DELIMITER)
    assert f"entity{TUPLE_DELIMITER}Acme Corp{TUPLE_DELIMITER}organization" in answer
    # WHEN its gleaning turn follows the answer (no marker of LambdaRAG's own prompt)
    follow_up = [*first, {"role": "assistant", "content": answer},
                 {"role": "user", "content": LIGHTRAG_GLEANING}]
    # THEN it is a gleaning of the first turn's text: the acronym the first pass skipped
    assert brain.classify("system", follow_up) == "gleaning"
    assert brain.respond("system", follow_up).splitlines()[0].startswith(
        f"entity{TUPLE_DELIMITER}NASA{TUPLE_DELIMITER}")


def test_lightrag_summary_and_keywords() -> None:
    summary = [{"role": "user", "content": LIGHTRAG_SUMMARY}]
    assert brain.classify(None, summary) == "summary"
    assert brain.respond(None, summary) == (
        "Acme Corp (summary): Acme Corp makes anvils. Acme Corp is in Springfield."
    )
    keywords = [{"role": "user", "content": LIGHTRAG_KEYWORDS}]
    assert brain.classify(None, keywords) == "keywords"
    assert json.loads(brain.respond(None, keywords)) == {
        "high_level_keywords": ["influence", "manufacturing"],
        "low_level_keywords": ["Alice Smith", "Acme Corp"],
    }


def test_a_plain_chat_with_history_is_not_a_gleaning() -> None:
    messages = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"},
                {"role": "user", "content": "extract the gist"}]
    assert brain.classify(None, messages) == "echo"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(dim=8) as server:
        yield server


def test_the_server_labels_each_call_with_kind_size_and_duration(fake: FakeLLMServer) -> None:
    # GIVEN a 50 ms provider
    fake.reset()
    fake.delay = 0.05
    prompt = ENTITY_EXTRACTION_USER.format(input_text=TEXT)
    with httpx.Client(base_url=fake.openai_url, timeout=10) as client:
        # WHEN one extraction and one embedding request of three texts go through
        client.post("/chat/completions",
                    json={"model": "m", "messages": [{"role": "system", "content": "sys"},
                                                     {"role": "user", "content": prompt}]})
        client.post("/embeddings", json={"model": "e", "input": ["a", "b", "c"]})
    # THEN the ledger holds both, finished, with their kind, size and the delay in their span
    chat, embedding = fake.calls
    assert (chat.kind, chat.prompt_chars) == ("extraction", 3 + len(prompt))
    assert (embedding.kind, embedding.texts) == ("embedding", 3)
    assert all(c.ended is not None and c.ended - c.started >= 0.05 for c in fake.calls)
    assert tally(fake.calls)["chat_calls"] == 1


def test_base64_embeddings_decode_to_the_float_answer(fake: FakeLLMServer) -> None:
    fake.reset()
    with httpx.Client(base_url=fake.openai_url, timeout=10) as client:
        floats = client.post("/embeddings", json={"input": "Alice Smith"}).json()
        packed = client.post("/embeddings",
                             json={"input": "Alice Smith", "encoding_format": "base64"}).json()
    decoded = struct.unpack("<8f", base64.b64decode(packed["data"][0]["embedding"]))
    assert decoded == pytest.approx(floats["data"][0]["embedding"], rel=1e-6)
    assert floats["data"][0]["embedding"] == brain.embed("Alice Smith", 8)


def test_kept_alive_connections_are_not_held_by_delayed_acks(fake: FakeLLMServer) -> None:
    # GIVEN one client connection reused for several requests (as every SDK does)
    fake.reset()
    with httpx.Client(base_url=fake.openai_url, timeout=10) as client:
        client.post("/embeddings", json={"input": "warm-up"})
        times = []
        for n in range(7):
            started = time.perf_counter()
            client.post("/embeddings", json={"input": f"text {n}"})
            times.append(time.perf_counter() - started)
    # THEN an answer takes milliseconds, not the ~40 ms of Nagle waiting for a delayed ACK
    assert statistics.median(times) < 0.025
