"""One error model: the root type, mapped once to HTTP, to Step Functions names, to exit codes."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import lambdarag
from lambdarag import errors
from lambdarag.api.errors import api_error
from lambdarag.config import SettingsError
from lambdarag.documents.lifecycle import (
    ConflictChangedError,
    FileTooLargeError,
    InvalidSourceError,
    SourceExistsError,
    UnknownConflictError,
)
from lambdarag.graph.edits import GraphNotFoundError, GraphOpError
from lambdarag.llm.base import LLMConfigError, LLMResponseError, LLMUnavailableError
from lambdarag.storage.base import (
    StorageError,
    StoreThrottledError,
    StoreUnavailableError,
    VersionConflictError,
)
from lambdarag.utils import InvalidWorkspaceName

ASL = Path(__file__).resolve().parents[2] / "infra" / "statemachine.asl.json"


def every_error_class() -> list[type[errors.LambdaRAGError]]:
    for module in pkgutil.walk_packages(lambdarag.__path__, "lambdarag."):
        if not module.name.startswith(("lambdarag.serverless", "lambdarag.webui", "lambdarag.cli.__main__")):
            importlib.import_module(module.name)
    found, todo = [], [errors.LambdaRAGError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in found if c.__module__ != errors.__name__ or c is errors.LambdaRAGError]


@pytest.mark.parametrize(("error", "status"), [
    (InvalidSourceError("bad name"), 400),
    (InvalidWorkspaceName("bad workspace"), 400),
    (GraphOpError("taken"), 400),
    (GraphNotFoundError("gone"), 404),
    (UnknownConflictError("no such conflict"), 404),
    (SourceExistsError("stored"), 409),
    (ConflictChangedError("stale"), 409),
    (FileTooLargeError("too big"), 413),
])
def test_a_refusal_answers_its_status_with_its_message(error: errors.LambdaRAGError, status: int) -> None:
    answer = api_error(error)
    assert answer is not None
    assert (answer.status_code, answer.detail) == (status, str(error))


def test_a_store_failure_answers_in_words_with_retry_after() -> None:
    conflict, throttled, down = (api_error(VersionConflictError("doc_status: v3")),
                                 api_error(StoreThrottledError("DynamoDB throttled")),
                                 api_error(StorageError("the table is missing")))
    assert conflict is not None and throttled is not None and down is not None
    assert conflict.status_code == 409
    assert (throttled.status_code, throttled.headers) == (503, {"Retry-After": "2"})
    assert (down.status_code, down.headers) == (503, {"Retry-After": "5"})
    assert "the table is missing" in str(down.detail)


def test_an_internal_error_is_left_to_the_handler_that_hides_it() -> None:
    assert api_error(LLMResponseError("http://10.0.0.5:11434 sent garbage")) is None
    assert errors.http_status(RuntimeError("boom")) == 500


def test_exit_codes_say_whether_a_setting_must_change() -> None:
    assert errors.exit_code(SettingsError("PORT: bad")) == 2
    assert errors.exit_code(LLMConfigError("LLM host 'x' is not a URL")) == 2
    assert errors.exit_code(LLMUnavailableError("LLM host is unreachable")) == 1
    assert errors.exit_code(KeyError("x")) == 1


def test_a_subclass_is_reported_under_the_name_the_state_machine_retries() -> None:
    reported = errors.as_step_error(StoreThrottledError("DynamoDB throttled"))
    assert type(reported).__name__ == "StoreUnavailableError"
    assert str(reported) == "DynamoDB throttled"
    same = StoreUnavailableError("down")
    assert errors.as_step_error(same) is same


def test_the_state_machine_retries_exactly_the_retryable_errors() -> None:
    definition = json.loads(re.sub(r"\$\{\w+\}", "1", ASL.read_text()))  # SAM's substitutions
    retried, failed_at_once = set(), set()
    for state in _task_states(definition["States"]):
        rules = state["Retry"]
        failed_at_once |= set(rules[0]["ErrorEquals"]) if rules[0]["MaxAttempts"] == 0 else set()
        retried |= {name for rule in rules[1:] for name in rule["ErrorEquals"]}
    assert set(errors.STEP_FUNCTIONS_RETRY) <= retried
    assert set(errors.STEP_FUNCTIONS_FAIL) <= failed_at_once
    for cls in every_error_class():
        name = errors.step_functions_error(cls("x") if cls is not _chat() else cls(400, "x"))
        if cls.retryable:
            assert name in errors.STEP_FUNCTIONS_RETRY, cls
        else:
            assert name not in retried, cls


def _chat() -> type:
    from lambdarag.chat.conversation import ChatRequestError

    return ChatRequestError


def _task_states(states: dict) -> list[dict]:
    found = []
    for state in states.values():
        if state.get("Type") == "Task" and "Retry" in state:
            found.append(state)
        if "ItemProcessor" in state:
            found += _task_states(state["ItemProcessor"]["States"])
        if "Iterator" in state:
            found += _task_states(state["Iterator"]["States"])
    return found
