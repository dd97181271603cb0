"""parse_query_prefix: the chat query prefixes LightRAG accepts, and the plan built on them."""

from __future__ import annotations

import pytest

from lambdarag.chat.conversation import (
    ChatMessage,
    ChatRequestError,
    ParsedQuery,
    parse_query_prefix,
    plan_chat,
)
from lambdarag.query.param import TOO_SHORT


@pytest.mark.parametrize(("text", "expected"), [
    ("Who is X", ParsedQuery("Who is X", "mix", False, None)),
    ("/local Who is X", ParsedQuery("Who is X", "local", False, None)),
    ("/global   Who is X ", ParsedQuery("Who is X", "global", False, None)),
    ("/naive Who is X", ParsedQuery("Who is X", "naive", False, None)),
    ("/hybrid Who is X", ParsedQuery("Who is X", "hybrid", False, None)),
    ("/mix Who is X", ParsedQuery("Who is X", "mix", False, None)),
    ("/bypass Who is X", ParsedQuery("Who is X", "bypass", False, None)),
    ("/context Who is X", ParsedQuery("Who is X", "mix", True, None)),
    ("/contextWho is X", ParsedQuery("Who is X", "mix", True, None)),
    ("/localcontext Who is X", ParsedQuery("Who is X", "local", True, None)),
    ("/globalcontext Who is X", ParsedQuery("Who is X", "global", True, None)),
    ("/hybridcontext Who is X", ParsedQuery("Who is X", "hybrid", True, None)),
    ("/naivecontext Who is X", ParsedQuery("Who is X", "naive", True, None)),
    ("/mixcontext Who is X", ParsedQuery("Who is X", "mix", True, None)),
    # no trailing space: literal text, mix mode
    ("/local", ParsedQuery("/local", "mix", False, None)),
    ("/localWho", ParsedQuery("/localWho", "mix", False, None)),
    ("/LOCAL Who", ParsedQuery("/LOCAL Who", "mix", False, None)),
    (" /local Who", ParsedQuery("/local Who", "mix", False, None)),
    # bracket form
    ("/local[use mermaid] who is X", ParsedQuery("who is X", "local", False, "use mermaid")),
    ("/[be brief] who is X", ParsedQuery("who is X", "mix", False, "be brief")),
    ("/[be brief]who is X", ParsedQuery("who is X", "mix", False, "be brief")),
    ("/context[only facts] X and Y", ParsedQuery("X and Y", "mix", True, "only facts")),
    ("/naivecontext[a] q", ParsedQuery("q", "naive", True, "a")),
    ("/bypass[in French] hello", ParsedQuery("hello", "bypass", False, "in French")),
    ("/local[a] line one\nline two", ParsedQuery("line one\nline two", "local", False, "a")),
    ("/local[a [nested] b] q", ParsedQuery("b] q", "local", False, "a [nested")),  # non-greedy
    ("/local[two\nlines] q", ParsedQuery("/local[two\nlines] q", "mix", False, None)),
    ("/foo[x] q", ParsedQuery("/foo q", "mix", False, "x")),  # unknown mode stays text
    ("/local[x]", ParsedQuery("", "local", False, "x")),
    ("/[] q", ParsedQuery("q", "mix", False, None)),
])
def test_parse_query_prefix(text: str, expected: ParsedQuery) -> None:
    assert parse_query_prefix(text) == expected


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def test_plan_routes_bypass_and_task_prompts_to_the_llm() -> None:
    assert plan_chat([user("/bypass hi")], system="S", stream=False).kind == "llm"
    task = "### Task:\nTitle this.\n### Chat History:\n<chat_history>\nUSER: hi\n</chat_history>"
    for stream in (False, True):
        plan = plan_chat([user(task)], system=None, stream=stream)
        assert (plan.kind, plan.mode) == ("llm", "bypass")
    plan = plan_chat([user("Who founded Acme Corp?")], system="ignored", stream=True)
    assert (plan.kind, plan.mode, plan.history) == ("rag", "mix", [])


def test_plan_history_system_and_roles() -> None:
    plan = plan_chat([ChatMessage("system", "A"), user("Hi there"), ChatMessage("Assistant", "Hello"),
                      ChatMessage("developer", "B"), user("/local Who is X?")],
                     system="S", stream=False)
    assert plan.history == [{"role": "user", "content": "Hi there"},
                            {"role": "assistant", "content": "Hello"}]
    assert plan.system == "S\n\nA\n\nB" and plan.mode == "local" and not plan.continuation
    with pytest.raises(ChatRequestError) as caught:
        plan_chat([ChatMessage("tool", "x"), user("Who is X?")], system=None, stream=False)
    assert caught.value.status_code == 400 and "developer" in caught.value.message


def test_plan_continuation() -> None:
    plan = plan_chat([user("/naive Who is X?"), ChatMessage("assistant", "X is")],
                     system=None, stream=False)
    assert plan.continuation and plan.mode == "naive" and plan.query == "Who is X?"
    assert plan.history == [{"role": "user", "content": "Who is X?"},
                            {"role": "assistant", "content": "X is"}]
    with pytest.raises(ChatRequestError, match="Nothing to continue"):
        plan_chat([ChatMessage("assistant", "X is")], system=None, stream=False)


@pytest.mark.parametrize(("messages", "status", "message"), [
    ([], 400, "No messages provided"),
    ([user("   ")], 400, "Query must not be empty."),
    ([user("/mix ")], 400, "Query must not be empty."),
    ([user("ab")], 400, TOO_SHORT),
    ([user("好")], 400, TOO_SHORT),
    ([ChatMessage("system", "x")], 400, "Last message must be from user role"),
    ([user("q" * 32769)], 413, "Request payload exceeds the allowed size (messages[0].content"),
])
def test_plan_refusals(messages: list[ChatMessage], status: int, message: str) -> None:
    with pytest.raises(ChatRequestError) as caught:
        plan_chat(messages, system=None, stream=False)
    assert caught.value.status_code == status
    assert caught.value.message.startswith(message)


def test_short_queries_are_fine_outside_rag() -> None:
    assert plan_chat([user("/bypass ab")], system=None, stream=False).query == "ab"
    assert plan_chat([user("好好")], system=None, stream=False).kind == "rag"  # weight 4


def test_content_parts_keep_text_only() -> None:
    message = ChatMessage.from_wire("user", [
        {"type": "text", "text": "first"}, {"type": "image_url", "image_url": {"url": "data:"}},
        {"type": "text", "text": "second"}])
    assert message == ChatMessage("user", "first\nsecond")
    assert ChatMessage.from_wire("user", None).content == ""
    with pytest.raises(ChatRequestError):
        ChatMessage.from_wire("user", 42)
