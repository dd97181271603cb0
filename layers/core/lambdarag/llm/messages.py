"""Chat message assembly shared by the bindings."""

from __future__ import annotations

from collections.abc import Sequence

from lambdarag.llm.base import ChatMessage


def build_messages(
    prompt: str, system_prompt: str | None, history: Sequence[ChatMessage]
) -> list[ChatMessage]:
    """System prompt first, then the history in order, then the new user prompt."""
    messages: list[ChatMessage] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.extend({"role": m["role"], "content": m["content"]} for m in history)
    messages.append({"role": "user", "content": prompt})
    return messages
