"""The engine's error model: one root type, mapped once to HTTP, Step Functions and the CLI.

Every error the engine raises on purpose is a :class:`LambdaRAGError`. Each class says
three things about itself, as class attributes, and the three runtimes' edges read them
here and nowhere else:

- ``http_status``: the API's one exception handler (``lambdarag.api.app``) answers it;
- ``retryable``: whether a step that failed with it is worth running again. The pipeline
  Lambdas report the error under the name the state machine matches
  (:func:`step_functions_error`): a retryable error under one of its ``Retry`` names
  (``STEP_FUNCTIONS_RETRY``), never under a name it fails at once;
- ``exit_code``: what the ``lambdarag`` command exits with (:func:`exit_code`).

Each package keeps its own base error (``StorageError``, ``LLMError``,
``DocumentRequestError`` ...) under this root.
"""

from __future__ import annotations

from typing import ClassVar

# The error names the state machine (infra/) retries, and those it catches to fail the
# document. tests/aws/test_state_machine.py checks the definition against them.
STEP_FUNCTIONS_RETRY = ("LLMUnavailableError", "StoreUnavailableError", "VersionConflictError",
                        "LeaseLostError")
STEP_FUNCTIONS_FAIL = ("PipelineError", "PipelineCancelled", "InvalidWorkspaceName",
                       "SettingsError", "LLMConfigError", "ParseError", "ChunkingError")


class LambdaRAGError(Exception):
    """Root of every error the engine raises on purpose; the message says what to do next."""

    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1


class ConfigurationError(LambdaRAGError, ValueError):
    """A setting cannot be used; nothing starts until it is changed."""

    exit_code = 2


def http_status(exc: BaseException) -> int:
    """The HTTP status an error answers (500 for anything outside the model)."""
    return exc.http_status if isinstance(exc, LambdaRAGError) else 500


def exit_code(exc: BaseException) -> int:
    """The ``lambdarag`` command's exit status for an error (1 outside the model)."""
    return exc.exit_code if isinstance(exc, LambdaRAGError) else 1


def step_functions_error(exc: BaseException) -> str:
    """The error name a pipeline Lambda reports for ``exc``.

    The nearest class of ``exc`` the state machine names (a ``StoreThrottledError`` is
    retried as the ``StoreUnavailableError`` it is), else its own class name, which the
    state machine's generic ``States.TaskFailed`` rule handles.
    """
    named = set(STEP_FUNCTIONS_RETRY) | set(STEP_FUNCTIONS_FAIL)
    for cls in type(exc).__mro__:
        if cls.__name__ in named:
            return cls.__name__
    return type(exc).__name__


_STEP_ERRORS: dict[str, type[Exception]] = {}


def as_step_error(exc: BaseException) -> BaseException:
    """``exc`` itself when Lambda would report the right name, else a copy under that name."""
    name = step_functions_error(exc)
    if name == type(exc).__name__:
        return exc
    if name not in _STEP_ERRORS:
        _STEP_ERRORS[name] = type(name, (LambdaRAGError,), {"__module__": __name__})
    return _STEP_ERRORS[name](str(exc))
