"""The stack's StoreSetup custom resource: the trigger Lambda creates the stores ahead.

GIVEN functions/trigger/handler.py on the AWS adapters' local servers (fresh table and
index prefix) and a stand-in for CloudFormation's presigned ResponseURL, WHEN it receives
custom resource requests as CloudFormation sends them, THEN Create/Update make every
store's resources for the listed workspaces, a bad request FAILS with the reason, Delete
keeps the data, and each request is answered at the ResponseURL.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lambdarag.config import Settings
from tests.aws.conftest import aws_env, drop_remote, running_trigger
from tests.fakes.llm_server import FakeLLMServer
from tests.functional.conftest import fake_settings


class Responses:
    """CloudFormation's side: a URL that records each PUT body and its Content-Type."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers["Content-Length"])
                outer.bodies.append((self.headers.get("Content-Type", "-"),
                                     json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/cfn-response?X-Amz-Signature=x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def responses() -> Iterator[Responses]:
    found = Responses()
    yield found
    found.server.shutdown()


@pytest.fixture
def settings(tmp_path: Path, fake_llm: FakeLLMServer,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with aws_env(monkeypatch, f"lrsetup-{uuid.uuid4().hex[:10]}"):
        yield fake_settings(tmp_path, fake_llm)


@pytest.fixture
def trigger(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The trigger handler module, imported once by path as Lambda does."""
    with running_trigger(monkeypatch, settings) as module:
        yield module
        if module._engine is not None:
            for workspace in ("", "team_a", "team_b"):
                module._loop.run_until_complete(_drop(module._engine, workspace))


async def _drop(engine: Any, name: str) -> None:
    await drop_remote(await engine.workspace(name))


class Context:
    function_name = "TriggerFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:TriggerFunction"
    aws_request_id = "req-setup"


def request(kind: str, url: str, workspaces: str | None, **extra: Any) -> dict[str, Any]:
    """A custom resource request as CloudFormation sends it."""
    properties: dict[str, Any] = {"ServiceToken": Context.invoked_function_arn}
    if workspaces is not None:
        properties["Workspaces"] = workspaces
    return {"RequestType": kind, "ServiceToken": Context.invoked_function_arn,
            "ResponseURL": url, "StackId": "arn:aws:cloudformation:us-east-1:123456789012:"
            "stack/lambdarag/abc", "RequestId": f"req-{uuid.uuid4().hex[:6]}",
            "LogicalResourceId": "StoreSetup", "ResourceType": "Custom::LambdaRAGStores",
            "ResourceProperties": properties, **extra}


def indexes(trigger: ModuleType, workspace: str) -> list[bool]:
    async def check() -> list[bool]:
        stores = (await trigger._engine.workspace(workspace)).stores
        return [await store._exists() for store in
                (stores.chunks_vdb, stores.entities_vdb, stores.relationships_vdb)]

    return trigger._loop.run_until_complete(check())


def test_create_makes_the_listed_workspaces_stores_and_answers_cloudformation(
    trigger: ModuleType, responses: Responses
) -> None:
    # WHEN the stack is created with two workspaces listed
    result = trigger.handler(request("Create", responses.url, "team_a, team_b"), Context())
    # THEN both have their indexes, and CloudFormation got SUCCESS
    assert result["status"] == "SUCCESS", result
    assert indexes(trigger, "team_a") == indexes(trigger, "team_b") == [True] * 3
    content_type, body = responses.bodies[-1]
    assert content_type == ""  # the presigned URL was signed without one
    assert (body["Status"], body["LogicalResourceId"], body["Data"]) == (
        "SUCCESS", "StoreSetup", {"Workspaces": "team_a,team_b"})
    assert body["PhysicalResourceId"] == "lambdarag-stores"


def test_no_list_means_the_default_workspace_and_delete_keeps_the_data(
    trigger: ModuleType, responses: Responses
) -> None:
    assert trigger.handler(request("Update", responses.url, "",
                                   PhysicalResourceId="lambdarag-stores"),
                           Context())["status"] == "SUCCESS"
    assert indexes(trigger, "") == [True] * 3
    deleted = trigger.handler(request("Delete", responses.url, "",
                                      PhysicalResourceId="lambdarag-stores"), Context())
    assert deleted["status"] == "SUCCESS"
    assert indexes(trigger, "") == [True] * 3
    assert [body["Status"] for _, body in responses.bodies] == ["SUCCESS", "SUCCESS"]


def test_a_bad_workspace_fails_the_deployment_with_the_reason(
    trigger: ModuleType, responses: Responses
) -> None:
    result = trigger.handler(request("Create", responses.url, "team-a"), Context())
    assert result["status"] == "FAILED"
    _, body = responses.bodies[-1]
    assert body["Status"] == "FAILED" and "team-a" in body["Reason"]


def test_init_stores_on_the_command_line_creates_them_and_reports_drift(
    settings: Settings, fake_llm: FakeLLMServer, capsys: pytest.CaptureFixture[str],
) -> None:
    from lambdarag import cli
    from lambdarag.runtime import build_engine

    base = ["--llm-binding", "openai", "--llm-model", "fake-llm",
            "--llm-binding-host", fake_llm.openai_url, "--embedding-binding", "openai",
            "--embedding-model", "fake-embed", "--embedding-binding-host", fake_llm.openai_url]
    # WHEN the deploy step runs for a workspace
    assert cli.main([*base, "--embedding-dim", "1024", "init-stores", "team_a"]) == 0
    assert "workspace 'team_a': " in capsys.readouterr().out
    # THEN a second run with another dimension fails in one line naming the setting
    assert cli.main([*base, "--embedding-dim", "512", "init-stores", "team_a"]) == 1
    error = capsys.readouterr().err
    assert "1024 dimensions but 512" in error and "EMBEDDING_DIM" in error

    async def clean() -> None:
        engine = build_engine(settings)
        try:
            await drop_remote(await engine.workspace("team_a"))
        finally:
            await engine.aclose()

    asyncio.run(clean())
