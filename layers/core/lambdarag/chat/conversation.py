"""Chat over the knowledge bases: the engine side of the Ollama and OpenAI chat APIs.

:func:`plan_chat` validates a conversation and decides what to do
with it: answer the last user message from the knowledge base (``kind="rag"``), or send the
conversation straight to the LLM (``kind="llm"``: ``/bypass`` and Open WebUI's title, tag
and follow-up task prompts). :func:`run_chat` carries a plan out. The routes only translate
wire shapes, so both APIs behave the same.

Every knowledge base (workspace) is offered as a model: ``<name>:<tag>`` (``lightrag:latest``)
is the request's own workspace, and every other stored workspace ``ws`` is ``<name>:<ws>``.

Example::

    plan = plan_chat([ChatMessage("user", "/local[be brief] Who founded Acme Corp?")],
                     system=None, stream=False)
    # plan.kind == "rag", plan.mode == "local", plan.user_prompt == "be brief"
    answer = await run_chat(await engine.workspace(), plan, stream=False)
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from lambdarag.errors import LambdaRAGError
from lambdarag.llm import prompts, tokenizer
from lambdarag.llm.base import ChatMessage as LLMMessage
from lambdarag.query.answer import aquery
from lambdarag.query.param import TOO_SHORT, Mode, QueryParam, english_weight

if TYPE_CHECKING:
    from lambdarag.config import Settings
    from lambdarag.runtime.engine import Engine
    from lambdarag.workspace.workspace import Workspace

# Size limits of a chat or generate request; over them is 413.
MAX_MESSAGES = 128
MAX_ROLE_CHARS = 64
MAX_CONTENT_CHARS = 32768
MAX_IMAGES = 16
MAX_SYSTEM_CHARS = 32768
MAX_PROMPT_CHARS = 65536
MAX_TOTAL_CHARS = 131072

NO_MESSAGES = "No messages provided"
EMPTY_QUERY = "Query must not be empty."
LAST_NOT_USER = "Last message must be from user role"
ROLES = ("user", "assistant", "system")
ROLE_ALIASES = {"developer": "system"}
TEXT_PARTS = ("text", "input_text")

# (prefix, mode, only_need_context), checked in this order with startswith.
PREFIXES: tuple[tuple[str, str, bool], ...] = (
    ("/local ", "local", False),
    ("/global ", "global", False),
    ("/naive ", "naive", False),
    ("/hybrid ", "hybrid", False),
    ("/mix ", "mix", False),
    ("/bypass ", "bypass", False),
    ("/context", "mix", True),
    ("/localcontext", "local", True),
    ("/globalcontext", "global", True),
    ("/hybridcontext", "hybrid", True),
    ("/naivecontext", "naive", True),
    ("/mixcontext", "mix", True),
)
DEFAULT_MODE = "mix"
# "/<mode>[<user prompt>] <query>": the brackets on one line, the query may span lines.
_BRACKET = re.compile(r"/([a-z]*)\[([^\n]*?)\](.*)", re.DOTALL)
# Open WebUI's title/tag/follow-up prompts quote the chat as "<chat_history>\nUSER: ...".
_TASK_PROMPT = re.compile(r"\n<chat_history>\s*\n\s*USER:")


class ChatRequestError(LambdaRAGError, ValueError):
    """A chat request the server refuses: 400 (invalid), 404 (unknown model) or 413 (too big).

    ``message`` is the text for the client, saying what to fix.
    """

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.http_status = status_code  # type: ignore[misc]
        self.message = message


def too_large(fields: Sequence[str]) -> ChatRequestError:
    """LightRAG's 413, naming each field over its limit."""
    return ChatRequestError(413, f"Request payload exceeds the allowed size ({'; '.join(fields)}).")


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, text only (images and tool fields are dropped)."""

    role: str
    content: str

    @classmethod
    def from_wire(cls, role: str, content: Any) -> ChatMessage:
        """A message from a wire ``content``: a string, None, or a list of content parts.

        Text parts (OpenAI ``{"type": "text", "text": ...}``, or plain strings) are joined
        by newlines; image and other parts are ignored.
        """
        return cls(role, _text_of(content))


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ChatRequestError(
            400, "Invalid request body: message content must be a string or a list of content parts"
        )
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") in TEXT_PARTS:
            if not isinstance(part.get("text"), str):
                raise ChatRequestError(400, "Invalid request body: a text content part needs a string 'text'")
            texts.append(part["text"])
        elif not isinstance(part, Mapping):
            raise ChatRequestError(400, "Invalid request body: each content part must be an object")
    return "\n".join(texts)


# --------------------------------------------------------------------- query prefixes


@dataclass(frozen=True)
class ParsedQuery:
    query: str
    mode: str
    only_need_context: bool
    user_prompt: str | None


def parse_query_prefix(text: str) -> ParsedQuery:
    """The query mode and options a chat message asks for with its prefix.

    ``"/local[use a table] Who is X"`` is local mode with the user prompt "use a table";
    ``"/context Who is X"`` returns the retrieved context only; no prefix means mix.
    """
    user_prompt = None
    bracket = _BRACKET.match(text)
    if bracket:
        mode, inside, rest = bracket.groups()
        user_prompt = inside.strip() or None
        text = f"/{mode} {rest.lstrip()}" if mode else rest.lstrip()
    for prefix, mode, only_context in PREFIXES:
        if text.startswith(prefix):
            return ParsedQuery(text[len(prefix):].strip(), mode, only_context, user_prompt)
    return ParsedQuery(text.strip(), DEFAULT_MODE, False, user_prompt)


# ------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class ChatPlan:
    """What to do with a conversation.

    ``history`` is what the LLM sees before the new user turn. For a continuation it ends
    with the question and the partial assistant answer, and the new user turn is the
    "continue" instruction (``prompts.CHAT_CONTINUE``). ``system`` (the request's system
    field and system messages) is used by ``kind="llm"`` only, as in LightRAG.
    """

    kind: Literal["rag", "llm"]
    query: str
    mode: str
    only_need_context: bool
    user_prompt: str | None
    history: list[dict[str, str]]
    system: str | None
    continuation: bool


def plan_chat(messages: Sequence[ChatMessage], *, system: str | None, stream: bool) -> ChatPlan:
    """Validate a conversation and plan its answer; raises ChatRequestError (400/413).

    ``stream`` does not change the plan: unlike LightRAG, Open WebUI task prompts go
    straight to the LLM when streamed too (deliberately: Open WebUI can stream them, and
    answering them from the knowledge base only wastes a retrieval).
    """
    if not messages:
        raise ChatRequestError(400, NO_MESSAGES)
    _check_sizes(messages, system)
    systems = [system] if system else []
    turns: list[ChatMessage] = []
    for message in messages:
        role = _role(message.role)
        if role == "system":
            systems.append(message.content)
        else:
            turns.append(ChatMessage(role, message.content))
    system_prompt = "\n\n".join(s for s in systems if s.strip()) or None
    partial = turns.pop() if turns and turns[-1].role == "assistant" else None
    if not turns or turns[-1].role != "user":
        raise ChatRequestError(400, LAST_NOT_USER if partial is None else
                               "Nothing to continue: the last assistant message must follow a user message")
    parsed = parse_query_prefix(turns[-1].content)
    if not parsed.query:
        raise ChatRequestError(400, EMPTY_QUERY)
    history = [{"role": m.role, "content": m.content} for m in turns[:-1]]
    continuation = partial is not None and bool(partial.content.strip())
    if continuation:
        assert partial is not None
        history += [{"role": "user", "content": parsed.query},
                    {"role": "assistant", "content": partial.content}]
    # Task prompts are detected in streamed requests too (LightRAG checks non-streamed ones
    # only): a deliberate improvement, since Open WebUI can stream them.
    direct = parsed.mode == "bypass" or bool(_TASK_PROMPT.search(parsed.query))
    if not direct and english_weight(parsed.query) < 3:
        raise ChatRequestError(400, TOO_SHORT)
    total = len(parsed.query) + len(system_prompt or "") + len(json.dumps(history, ensure_ascii=False))
    if total > MAX_TOTAL_CHARS:
        raise too_large([f"query + system + history: at most {MAX_TOTAL_CHARS} characters"])
    return ChatPlan(
        kind="llm" if direct else "rag",
        query=parsed.query,
        mode="bypass" if direct else parsed.mode,
        only_need_context=parsed.only_need_context and not direct,
        user_prompt=parsed.user_prompt,
        history=history,
        system=system_prompt,
        continuation=continuation,
    )


def plan_generate(prompt: str, *, system: str | None) -> ChatPlan:
    """A raw completion (Ollama ``/api/generate``): the prompt straight to the LLM, no history."""
    fields = []
    if len(prompt) > MAX_PROMPT_CHARS:
        fields.append(f"prompt: at most {MAX_PROMPT_CHARS} characters")
    if system and len(system) > MAX_SYSTEM_CHARS:
        fields.append(f"system: at most {MAX_SYSTEM_CHARS} characters")
    if fields:
        raise too_large(fields)
    if not prompt.strip():
        raise ChatRequestError(400, EMPTY_QUERY)
    return ChatPlan(kind="llm", query=prompt, mode="bypass", only_need_context=False,
                    user_prompt=None, history=[], system=system or None, continuation=False)


def check_images(counts: Sequence[int]) -> None:
    """413 when a message carries more than MAX_IMAGES images (they are dropped otherwise)."""
    fields = [f"messages[{i}].images: at most {MAX_IMAGES}" for i, n in enumerate(counts)
              if n > MAX_IMAGES]
    if fields:
        raise too_large(fields)


def _check_sizes(messages: Sequence[ChatMessage], system: str | None) -> None:
    fields = []
    if len(messages) > MAX_MESSAGES:
        fields.append(f"messages: at most {MAX_MESSAGES}")
    for i, message in enumerate(messages[:MAX_MESSAGES + 1]):
        if len(message.role) > MAX_ROLE_CHARS:
            fields.append(f"messages[{i}].role: at most {MAX_ROLE_CHARS} characters")
        if len(message.content) > MAX_CONTENT_CHARS:
            fields.append(f"messages[{i}].content: at most {MAX_CONTENT_CHARS} characters")
    if system and len(system) > MAX_SYSTEM_CHARS:
        fields.append(f"system: at most {MAX_SYSTEM_CHARS} characters")
    if fields:
        raise too_large(fields)


def _role(role: str) -> str:
    name = role.strip().lower()
    name = ROLE_ALIASES.get(name, name)
    if name not in ROLES:
        raise ChatRequestError(
            400, f"Unknown message role {role!r}: use user, assistant, system or developer"
        )
    return name


# -------------------------------------------------------------------------- running


@dataclass
class ChatAnswer:
    """An answer: the whole ``text`` or a stream of ``chunks`` (exactly one is set).

    ``references`` are the files the knowledge base answer drew on (empty for ``llm``);
    ``prompt_tokens`` counts the query only, as LightRAG's ``prompt_eval_count`` does.
    Iterating ``chunks`` may raise ``LLMError``.
    """

    text: str | None
    chunks: AsyncIterator[str] | None
    references: list[dict[str, Any]]
    prompt_tokens: int


async def run_chat(ws: Workspace, plan: ChatPlan, *, stream: bool) -> ChatAnswer:
    """Answer ``plan`` in ``ws``; raises ``lambdarag.llm.base.LLMError`` when the LLM fails."""
    prompt_tokens = count_tokens(plan.query)
    history = tuple(LLMMessage(role=m["role"], content=m["content"]) for m in plan.history)
    prompt = prompts.CHAT_CONTINUE if plan.continuation else plan.query
    if plan.kind == "llm":
        # "/bypass[instructions] ..." keeps its instructions (LightRAG drops them).
        system = "\n\n".join(s for s in (plan.system, plan.user_prompt) if s) or None
        if stream:
            chunks = ws.llm.stream(prompt, system_prompt=system, history=history)
            return ChatAnswer(None, chunks, [], prompt_tokens)
        text, _ = await ws.llm.complete(prompt, system_prompt=system, history=history,
                                        cache_type="query", use_cache=False)
        return ChatAnswer(text, None, [], prompt_tokens)
    param = QueryParam(
        mode=cast(Mode, plan.mode), stream=stream, only_need_context=plan.only_need_context,
        conversation_history=history, user_prompt=plan.user_prompt, top_k=ws.query.top_k,
    )
    result = await aquery(ws, plan.query, param, prompt=prompt if plan.continuation else None)
    if result.stream is not None:
        return ChatAnswer(None, result.stream, result.references, prompt_tokens)
    text = result.response or ""
    if plan.continuation and plan.only_need_context:
        # The context is rebuilt whole; send only what the partial answer lacks.
        partial = plan.history[-1]["content"]
        text = text[len(partial):] if text.startswith(partial) else text
    return ChatAnswer(text, None, result.references, prompt_tokens)


def count_tokens(text: str) -> int:
    """tiktoken o200k_base tokens (the gpt-4o-mini encoding LightRAG counts with)."""
    return tokenizer.count_tokens(text)


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ModelInfo:
    name: str
    workspace: str


def default_model(settings: Settings) -> str:
    """``OLLAMA_EMULATING_MODEL_NAME:OLLAMA_EMULATING_MODEL_TAG``, ``lightrag:latest`` by default."""
    return f"{settings.ollama_emulating_model_name}:{settings.ollama_emulating_model_tag}"


def list_models(
    engine: Engine, settings: Settings, default_workspace: str | None = None
) -> list[ModelInfo]:
    """Every knowledge base as a model, the request's own workspace first (even when empty).

    ``default_workspace`` is the workspace the request uses without a model (its
    LIGHTRAG-WORKSPACE header), WORKSPACE when None. Other stored workspaces follow as
    ``<name>:<workspace>``; the root workspace "" and one named like the default tag have
    no name of their own and are reachable through the header only.
    """
    default = settings.workspace if default_workspace is None else default_workspace
    tag = settings.ollama_emulating_model_tag
    models = [ModelInfo(default_model(settings), default)]
    models += [ModelInfo(f"{settings.ollama_emulating_model_name}:{ws}", ws)
               for ws in engine.workspace_names() if ws and ws not in (default, tag)]
    return models


def workspace_for_model(
    model: str | None, engine: Engine, settings: Settings, default_workspace: str
) -> str:
    """The workspace a request's ``model`` names; raises ChatRequestError(404) for an unknown one.

    Names not starting with ``<name>:`` are ignored (LightRAG accepts any model name), so
    they, and the default ``<name>:<tag>``, mean ``default_workspace``.
    """
    prefix = f"{settings.ollama_emulating_model_name}:"
    if not model or not model.startswith(prefix):
        return default_workspace
    tag = model[len(prefix):]
    if tag == settings.ollama_emulating_model_tag:
        return default_workspace
    if tag and tag in engine.workspace_names():
        return tag
    raise ChatRequestError(404, f"model '{model}' not found; GET /api/tags lists the knowledge bases")
