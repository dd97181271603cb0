"""The command line's options: LightRAG 1.5.7's ``lightrag-server`` options and a few more.

Each option sets one setting, so it has the meaning and the variable LightRAG gives it, and
it wins over that variable and ``.env`` (``--port 9000`` over ``PORT``). Options are
accepted before or after the subcommand; each subcommand's help lists the ones that apply
to it, and :func:`drop_inapplicable` sets aside those given to a subcommand they do not apply to.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lambdarag.llm import options as binding_options

SERVE = frozenset({"serve"})
MODELS = frozenset({"serve", "index", "query", "retry", "delete"})  # they call the LLM
INDEXING = frozenset({"serve", "index", "retry", "delete"})
QUERYING = frozenset({"serve", "query"})
EMBEDDING = MODELS | {"init-stores"}  # the vector index is made for the embedding size
FILES = frozenset({"serve", "index", "retry", "delete"})
COMMANDS = frozenset({"serve", "index", "query", "status", "retry", "delete", "init-stores"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# LightRAG's choices; a binding LambdaRAG lacks is refused by the settings with its name.
LLM_BINDINGS = ("lollms", "ollama", "openai", "openai-ollama", "azure_openai", "bedrock",
                "aws_bedrock", "gemini")
EMBEDDING_BINDINGS = ("lollms", "ollama", "openai", "azure_openai", "bedrock", "aws_bedrock",
                      "jina", "gemini", "voyageai")
RERANK_BINDINGS = ("null", "cohere", "jina", "aliyun")


@dataclass(frozen=True)
class Option:
    flag: str
    setting: str  # the Settings field; its variable is the upper-case name unless ``env``
    help: str
    commands: frozenset[str]
    type: Callable[[str], Any] | None = str
    choices: tuple[str, ...] | None = None
    env: str | None = None
    default: str | None = None  # shown in --help

    @property
    def variable(self) -> str:
        return self.env or self.setting.upper()


OPTIONS = (
    Option("--host", "host", "address to listen on", SERVE, default="0.0.0.0"),
    Option("--port", "port", "port to listen on", SERVE, int, default="9621"),
    Option("--working-dir", "working_dir", "storage directory", COMMANDS,
           default="./rag_storage"),
    Option("--input-dir", "input_dir", "where uploaded and scanned files are kept", FILES,
           default="./inputs"),
    Option("--timeout", "timeout", "LightRAG's gunicorn worker timeout, in seconds (None: "
           "none); provider calls have LLM_TIMEOUT and EMBEDDING_TIMEOUT", SERVE,
           default="300"),
    Option("--max-async", "max_async", "LLM calls at once", MODELS, int, env="MAX_ASYNC",
           default="4"),
    Option("--summary-max-tokens", "summary_max_tokens",
           "tokens of descriptions above which an entity or relation is summarised", INDEXING,
           int, default="1200"),
    Option("--summary-context-size", "summary_context_size",
           "most tokens of descriptions sent to one summary call", INDEXING, int,
           default="12000"),
    Option("--summary-length-recommended", "summary_length_recommended",
           "tokens a summary should have", INDEXING, int, default="600"),
    Option("--log-level", "log_level", "logging level", COMMANDS, str.upper, LOG_LEVELS,
           default="INFO"),
    Option("--verbose", "verbose", "also log every request to the LLM and embedding providers",
           COMMANDS, None),
    Option("--key", "lightrag_api_key", "API key clients must send (X-API-Key)", SERVE),
    Option("--ssl", "ssl", "serve https (needs --ssl-certfile and --ssl-keyfile)", SERVE, None),
    Option("--ssl-certfile", "ssl_certfile", "certificate file (PEM) for --ssl", SERVE),
    Option("--ssl-keyfile", "ssl_keyfile", "private key file (PEM) for --ssl", SERVE),
    Option("--simulated-model-name", "ollama_emulating_model_name",
           "model name the Ollama API shows", SERVE, default="lightrag"),
    Option("--simulated-model-tag", "ollama_emulating_model_tag",
           "model tag the Ollama API shows", SERVE, default="latest"),
    Option("--workspace", "workspace", "default workspace", COMMANDS, default="''"),
    Option("--api-prefix", "lightrag_api_prefix",
           "path prefix of every route and of the web UI, e.g. /site01", SERVE, default="none"),
    Option("--default-ui", "lightrag_default_ui", "what / opens (there is one UI: the web UI)",
           SERVE, choices=("webui", "workspace"), default="webui"),
    Option("--workers", "workers", "worker processes (this server runs one)", SERVE, int,
           default="1"),
    Option("--llm-binding", "llm_binding", "LLM provider", MODELS, choices=LLM_BINDINGS,
           default="ollama"),
    Option("--llm-model", "llm_model", "LLM model", MODELS, default="mistral-nemo:latest"),
    Option("--llm-binding-host", "llm_binding_host", "LLM endpoint", MODELS,
           default="the binding's"),
    Option("--embedding-binding", "embedding_binding", "embedding provider", EMBEDDING,
           choices=EMBEDDING_BINDINGS, default="ollama"),
    Option("--embedding-model", "embedding_model", "embedding model", EMBEDDING,
           default="the binding's"),
    Option("--embedding-dim", "embedding_dim", "embedding size", EMBEDDING, int,
           default="the model's"),
    Option("--embedding-binding-host", "embedding_binding_host", "embedding endpoint",
           EMBEDDING, default="the binding's"),
    Option("--rerank-binding", "rerank_binding", "reranker provider", QUERYING,
           choices=RERANK_BINDINGS, default="null"),
)
# --ollama-llm-num_ctx and the like: the family's name, dashed, then the option's own name.
FAMILY_COMMANDS = {"ollama_llm": MODELS, "openai_llm": MODELS, "ollama_embedding": EMBEDDING}
FAMILY_BINDING = {"ollama_llm": ("LLM_BINDING", ("ollama",)),
                  "openai_llm": ("LLM_BINDING", ("openai", "azure_openai")),
                  "ollama_embedding": ("EMBEDDING_BINDING", ("ollama",))}
FAMILY_SEPARATOR = "__"  # in the argparse dest: ollama_llm__num_ctx


def family_flag(family: str, name: str) -> str:
    return f"--{family.replace('_', '-')}-{name}"


def add_options(parser: argparse.ArgumentParser, command: str | None) -> None:
    """Every option; the help lists those that apply to ``command`` (None: all of them).

    An option that does not apply is accepted all the same (:func:`drop_inapplicable`),
    so a script's options may stand anywhere. Every default is ``SUPPRESS``: an option
    not given leaves the setting to the environment, and one given before the subcommand
    is not reset by the subcommand's parser.
    """

    def shown(commands: frozenset[str], text: str) -> str:
        return text if command is None or command in commands else argparse.SUPPRESS

    group = parser.add_argument_group("options (each wins over its variable)")
    for option in OPTIONS:
        default = f"; default {option.default}" if option.default else ""
        one_of = f": {', '.join(option.choices)}" if option.choices else ""
        text = shown(option.commands, f"{option.help}{one_of} ({option.variable}{default})")
        if option.type is None:
            group.add_argument(option.flag, dest=option.setting, action="store_true",
                               default=argparse.SUPPRESS, help=text)
        else:
            group.add_argument(option.flag, dest=option.setting, type=option.type,
                               choices=option.choices, default=argparse.SUPPRESS, help=text,
                               metavar=option.variable)
    for family, names in binding_options.FAMILIES.items():
        variable, bindings = FAMILY_BINDING[family]
        applies = command is None or command in FAMILY_COMMANDS[family]
        group = parser.add_argument_group(
            f"{family} options (with {variable}={' or '.join(bindings)}; "
            f"each wins over {family.upper()}_<NAME>)") if applies else parser
        for name, (_kind, text) in names.items():
            group.add_argument(family_flag(family, name), dest=f"{family}{FAMILY_SEPARATOR}{name}",
                               type=_typed(family, name), default=argparse.SUPPRESS,
                               help=shown(FAMILY_COMMANDS[family], text),
                               metavar=f"{family.upper()}_{name.upper()}")


def _typed(family: str, name: str) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            return binding_options.parse(family, name, raw)
        except binding_options.OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f"{family}_{name}"  # argparse names the type in its message
    return parse


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the options give: ``{"port": 9000, "cli_binding_options": {...}}``."""
    settings = {o.setting for o in OPTIONS}
    found: dict[str, Any] = {k: v for k, v in vars(args).items() if k in settings}
    if found.get("llm_binding") == "openai-ollama":  # LightRAG's shorthand for this pair
        found["llm_binding"] = "openai"
        found.setdefault("embedding_binding", "ollama")
    families: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        family, sep, name = key.partition(FAMILY_SEPARATOR)
        if sep:
            families.setdefault(family, {})[name] = value
    if families:
        found["cli_binding_options"] = families
    return found


def _given(args: argparse.Namespace) -> dict[str, tuple[str, frozenset[str]]]:
    """``{dest: (flag as written, commands it applies to)}`` of the options given."""
    by_dest = {o.setting: (o.flag, o.commands) for o in OPTIONS}
    for family, names in binding_options.FAMILIES.items():
        by_dest.update({f"{family}{FAMILY_SEPARATOR}{n}": (family_flag(family, n),
                                                          FAMILY_COMMANDS[family]) for n in names})
    return {dest: by_dest[dest] for dest in vars(args) if dest in by_dest}


def given_flags(args: argparse.Namespace) -> list[str]:
    """The flags given, as written on the command line."""
    return [flag for flag, _commands in _given(args).values()]


def drop_inapplicable(args: argparse.Namespace, command: str) -> list[str]:
    """Remove the options ``command`` has no use for from ``args``; returns their flags."""
    dropped = []
    for dest, (flag, commands) in _given(args).items():
        if command not in commands:
            delattr(args, dest)
            dropped.append(flag)
    return dropped
