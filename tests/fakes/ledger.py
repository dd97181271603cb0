"""What the fake provider served, call by call, and the figures a benchmark derives from it.

Every HTTP request the fake answers becomes one :class:`Call` with its kind (a
:data:`tests.fakes.brain.KINDS` value, ``"embedding"`` or ``"other"``), its start and
end on ``time.monotonic()`` and its size. Measuring on the provider side counts every
system under test the same way, whatever it logs about itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EMBEDDING = "embedding"
RERANK = "rerank"


@dataclass
class Call:
    """One request; ``ended`` is None while it is in flight (up to its last byte)."""

    path: str
    started: float
    kind: str = "other"
    ended: float | None = None
    prompt_chars: int = 0  # characters of the chat messages (system included)
    texts: int = 0  # texts in an embedding request

    @property
    def is_chat(self) -> bool:
        return self.kind not in (EMBEDDING, RERANK, "other")


def _clipped(call: Call, start: float, end: float) -> tuple[float, float] | None:
    stop = end if call.ended is None else min(call.ended, end)
    begin = max(call.started, start)
    return (begin, stop) if stop > begin else None


def in_flight_seconds(calls: Iterable[Call], start: float, end: float) -> float:
    """The integral of the number of calls in flight over ``[start, end]``."""
    spans = [_clipped(c, start, end) for c in calls]
    return sum(stop - begin for begin, stop in (s for s in spans if s))


def busy_fraction(calls: Iterable[Call], start: float, end: float, slots: int) -> float:
    """How full ``slots`` concurrent slots were over ``[start, end]`` (0..1 when the client
    respects its limit): in-flight seconds divided by ``slots`` x wall time."""
    if end <= start or slots < 1:
        return 0.0
    return in_flight_seconds(calls, start, end) / (slots * (end - start))


def covered_seconds(calls: Iterable[Call], start: float, end: float) -> float:
    """Seconds of ``[start, end]`` during which at least one call was in flight."""
    spans = sorted(s for s in (_clipped(c, start, end) for c in calls) if s)
    covered, reach = 0.0, start
    for begin, stop in spans:
        if stop > reach:
            covered += stop - max(begin, reach)
            reach = stop
    return covered


def peak_in_flight(calls: Iterable[Call]) -> int:
    """The most calls in flight at once."""
    events = sorted(
        (t, delta)
        for c in calls
        for t, delta in ((c.started, 1), (c.ended if c.ended is not None else float("inf"), -1))
    )
    peak = current = 0
    for _, delta in events:  # an end sorts before a start at the same instant
        current += delta
        peak = max(peak, current)
    return peak


def tally(calls: Sequence[Call]) -> dict[str, int]:
    """Calls per kind plus ``chat_calls``, ``embedding_requests``, ``embedded_texts`` and
    ``prompt_chars`` (chat only)."""
    kinds = Counter(c.kind for c in calls)
    return {
        **dict(sorted(kinds.items())),
        "chat_calls": sum(1 for c in calls if c.is_chat),
        "embedding_requests": kinds.get(EMBEDDING, 0),
        "embedded_texts": sum(c.texts for c in calls if c.kind == EMBEDDING),
        "prompt_chars": sum(c.prompt_chars for c in calls if c.is_chat),
    }
