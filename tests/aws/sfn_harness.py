"""Execute infra/statemachine.asl.json in moto with the project's real Lambda handlers.

moto's Step Functions interpreter runs ASL for real (``execute_state_machine``) and calls
every Lambda Task back over HTTP at ``localhost:$MOTO_PORT``; with Docker off, moto's Lambda
only echoes the payload. :class:`SfnHarness` therefore runs ``ThreadedMotoServer`` inside the
test process and replaces ``LambdaSimpleBackend.invoke`` so that each registered function
runs its real handler, the way the Lambda service would:

* one handler module per *execution environment*, loaded from its file; an environment
  serves one invocation at a time and is reused while "warm". Map iterations arrive on
  concurrent threads, so a busy function gets a second environment (a cold start), each
  with its own module globals (event loop, Engine), as on AWS;
* an exception becomes Lambda's error response: header ``x-amz-function-error: Unhandled``
  and body ``{"errorMessage", "errorType", "requestId", "stackTrace"}``, so Retry/Catch
  match the exception's class name exactly as on AWS;
* a result that is not JSON-serialisable fails as ``Runtime.MarshalError``.

Usage (module-scoped, the server starts once)::

    harness = SfnHarness().start()
    harness.add_pipeline_functions()
    sm = harness.create_state_machine("pipeline", fast_retries=True)
    arn = harness.start_execution(sm, "doc-123", {"workspace": "", "doc_id": "doc-123"})
    status, output, history = harness.wait(arn)
    harness.stop()

More functions (a trigger, an API) are added with :meth:`SfnHarness.add_function`; boto3
clients for any moto service come from :meth:`SfnHarness.client`.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import socket
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "infra" / "statemachine.asl.json"
PIPELINE_HANDLER = ROOT / "functions" / "pipeline" / "handler.py"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ROLE_NAME = "lambdarag-test-role"

# Placeholder -> (function name, handler attribute) for the pipeline's state machine.
PIPELINE_FUNCTIONS = {
    "PrepareFunctionArn": ("lambdarag-prepare", "prepare_handler"),
    "ExtractFunctionArn": ("lambdarag-extract", "extract_handler"),
    "MergeFunctionArn": ("lambdarag-merge", "merge_handler"),
    "FinalizeFunctionArn": ("lambdarag-finalize", "finalize_handler"),
    "FailFunctionArn": ("lambdarag-fail", "fail_handler"),
}
_TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_module_ids = itertools.count()


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda runtime's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = 900_000

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def load_module(path: Path) -> ModuleType:
    """A fresh copy of the module at ``path`` (its own globals: one execution environment)."""
    spec = importlib.util.spec_from_file_location(f"lambda_env_{next(_module_ids)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Invocation:
    """One call the state machine made: function, decoded payload, outcome."""

    function: str
    event: Any
    error_type: str | None = None
    result: Any = None
    cold_start: bool = False


@dataclass
class _Function:
    name: str
    path: Path
    handler: str
    idle: list[ModuleType] = field(default_factory=list)
    environments: list[ModuleType] = field(default_factory=list)


class SfnHarness:
    """moto in-process (S3, Step Functions, Lambda, IAM, ...) running the real handlers."""

    def __init__(self) -> None:
        self.port = 0
        self.endpoint = ""
        self._server: Any = None
        self._original_invoke: Any = None
        self._saved_config: Any = None
        self._saved_port: str | None = None
        self._lock = threading.Lock()
        self._functions: dict[str, _Function] = {}
        self._faults: dict[str, list[Callable[[Any], None]]] = {}
        self.invocations: list[Invocation] = []
        self.role_arn = ""

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> SfnHarness:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        self._saved_config = copy.deepcopy(default_user_config)
        self._saved_port = os.environ.get("MOTO_PORT")
        self.port = _free_port()
        os.environ["MOTO_PORT"] = str(self.port)  # where the ASL engine calls Lambda back
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True},
                                        "lambda": {"use_docker": False}})
        self._patch_invoke()
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole"}]}
        role = self.client("iam").create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        self.role_arn = role["Role"]["Arn"]
        return self

    def stop(self) -> None:
        self.recycle()
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.core.config import default_user_config

        if self._original_invoke is not None:
            LambdaSimpleBackend.invoke = self._original_invoke
            self._original_invoke = None
        if self._server is not None:
            try:
                self._post("/moto-api/reset", {})
            finally:
                self._server.stop()
                self._server = None
        if self._saved_config is not None:
            default_user_config.clear()
            default_user_config.update(self._saved_config)
        if self._saved_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._saved_port

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` pointed at this moto server."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        import urllib.request

        request = urllib.request.Request(
            self.endpoint + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            response.read()

    # --- functions --------------------------------------------------------------------

    def add_function(self, name: str, path: Path, handler: str, *, timeout: int = 900) -> str:
        """Create Lambda ``name`` whose invocations run ``handler`` from the file ``path``."""
        self._functions[name] = _Function(name, path, handler)
        created = self.client("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=self.role_arn,
            Handler=f"{path.stem}.{handler}", Code={"ZipFile": _dummy_zip()}, Timeout=timeout,
        )
        return str(created["FunctionArn"])

    def add_pipeline_functions(self) -> dict[str, str]:
        """The five pipeline functions; returns their ARNs by ASL placeholder."""
        return {placeholder: self.add_function(name, PIPELINE_HANDLER, handler)
                for placeholder, (name, handler) in PIPELINE_FUNCTIONS.items()}

    def fail_next(self, function: str, error: BaseException | Callable[[Any], None], times: int = 1) -> None:
        """Make the next ``times`` invocations of ``function`` raise ``error`` before its handler.

        ``error`` may also be a callable taking the event (e.g. to break the fake LLM first);
        it raises or returns, and the handler runs when it returns.
        """

        def hook(event: Any) -> None:
            if isinstance(error, BaseException):
                raise error
            error(event)

        with self._lock:
            self._faults.setdefault(function, []).extend([hook] * times)

    def recycle(self) -> None:
        """Shut down every execution environment (the next invocation is a cold start)."""
        with self._lock:
            environments = [env for fn in self._functions.values() for env in fn.environments]
            for fn in self._functions.values():
                fn.idle.clear()
                fn.environments.clear()
            self._faults.clear()
        for module in environments:
            _close_environment(module)

    def calls(self, function: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == function]

    def _patch_invoke(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        self._original_invoke = LambdaSimpleBackend.invoke
        original, harness = self._original_invoke, self

        def invoke(backend: Any, function_name: str, qualifier: str | None, body: Any,
                   headers: Any, response_headers: dict[str, str]) -> bytes | str | None:
            name = backend.get_function(function_name, qualifier).function_name
            if name not in harness._functions:
                return original(backend, function_name, qualifier, body, headers, response_headers)
            return harness._invoke(name, body, response_headers)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    def _invoke(self, name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        raw = body.decode() if isinstance(body, bytes) else (body or "")
        event = json.loads(raw) if raw.strip() else {}
        module, cold = self._acquire(name)
        context = FakeLambdaContext(function_name=name)
        record = Invocation(name, event, cold_start=cold)
        with self._lock:
            self.invocations.append(record)
            fault = self._faults.get(name, []).pop(0) if self._faults.get(name) else None
        try:
            if fault is not None:
                fault(event)
            result = getattr(module, self._functions[name].handler)(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as exc:
                raise _MarshalError(f"Unable to marshal response: {exc}") from exc
            record.result = result
            return payload
        except Exception as exc:  # noqa: BLE001 - becomes Lambda's error response
            record.error_type = _error_type(exc)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({
                "errorMessage": str(exc), "errorType": record.error_type,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
            }).encode()
        finally:
            self._release(name, module)

    def _acquire(self, name: str) -> tuple[ModuleType, bool]:
        fn = self._functions[name]
        with self._lock:
            if fn.idle:
                return fn.idle.pop(), False
        module = load_module(fn.path)  # outside the lock: init may take a while
        with self._lock:
            fn.environments.append(module)
        return module, True

    def _release(self, name: str, module: ModuleType) -> None:
        fn = self._functions[name]
        with self._lock:
            if module in fn.environments:
                fn.idle.append(module)

    # --- state machines and executions ------------------------------------------------

    def create_state_machine(
        self, name: str, *, definition: str | None = None, substitutions: dict[str, Any] | None = None,
        fast_retries: bool = True,
    ) -> str:
        """Create a state machine from the ASL text (default: the production file).

        ``substitutions`` fills ``${Name}`` placeholders, as SAM's DefinitionSubstitutions do;
        the pipeline functions' ARNs are filled in when registered. ``fast_retries`` shortens
        every Retry wait in this copy (see :func:`shorten_retries`).
        """
        text = definition if definition is not None else ASL_PATH.read_text()
        values: dict[str, Any] = {"ExtractConcurrency": 4, "MergeConcurrency": 4}
        arn_prefix = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
        values.update({placeholder: arn_prefix + fn_name
                       for placeholder, (fn_name, _) in PIPELINE_FUNCTIONS.items()
                       if fn_name in self._functions})
        values.update(substitutions or {})
        text = substitute(text, values)
        parsed = json.loads(text)
        if fast_retries:
            parsed = shorten_retries(parsed)
        created = self.client("stepfunctions").create_state_machine(
            name=name, definition=json.dumps(parsed), roleArn=self.role_arn,
        )
        return str(created["stateMachineArn"])

    def start_execution(self, state_machine_arn: str, name: str, execution_input: Any) -> str:
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input),
        )
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60.0) -> tuple[str, Any, list[dict[str, Any]]]:
        """Wait for the execution to end: (status, decoded output or error, full history)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in _TERMINAL:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout}s")
            time.sleep(0.05)
        history = list(_history(sfn, execution_arn))
        if described["status"] == "SUCCEEDED":
            output: Any = json.loads(described.get("output") or "null")
        else:
            output = {"error": described.get("error"), "cause": described.get("cause")}
        return described["status"], output, history


def substitute(text: str, values: dict[str, Any]) -> str:
    """Replace ``${Name}`` by ``values[Name]``; fail on a placeholder left without a value."""
    import re

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"no value for the ASL placeholder ${{{key}}}")
        return str(values[key])

    return re.sub(r"\$\{([A-Za-z0-9_]+)\}", fill, text)


def shorten_retries(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``definition`` whose retries wait at most ~1 s (ASL's smallest interval).

    Attempts and error lists stay as written; only the waits shrink.
    """
    copied = copy.deepcopy(definition)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for retrier in node.get("Retry", []) if isinstance(node.get("Retry"), list) else []:
                if retrier.get("MaxAttempts", 3) > 0:
                    retrier.update(IntervalSeconds=1, BackoffRate=1.0, MaxDelaySeconds=1,
                                   JitterStrategy="FULL")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(copied)
    return copied


def retriers(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(state name, retrier) for every Retry entry, nested Map states included."""

    def walk(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for state_name, state in states.items():
            for retrier in state.get("Retry", []):
                yield state_name, retrier
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if inner:
                yield from walk(inner["States"])

    return walk(definition["States"])


def history_events(history: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in history if e["type"] == event_type]


class _MarshalError(Exception):
    pass


def _error_type(exc: BaseException) -> str:
    # The Python runtime reports the class name; a result it cannot serialise is its own type.
    return "Runtime.MarshalError" if isinstance(exc, _MarshalError) else type(exc).__name__


def _history(sfn: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                         **({"nextToken": token} if token else {}))
        yield from page["events"]
        token = page.get("nextToken")
        if not token:
            return


def _close_environment(module: ModuleType) -> None:
    """Close an environment's Engine on its own loop (what a Lambda shutdown would drop)."""
    engine = getattr(module, "_engine", None)
    loop = getattr(module, "_loop", None)
    if engine is not None and loop is not None and not loop.is_closed():
        loop.run_until_complete(engine.aclose())
        module._engine = None
    if loop is not None and not loop.is_closed():
        loop.close()


def _dummy_zip() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
