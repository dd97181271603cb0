"""The real API Lambda handler (functions/api/handler.py) driven with API Gateway events.

The handler module is loaded once per module, by path, as Lambda does, with the environment
of a deployed function (WORKING_DIR in a temporary folder, the fake LLM as both bindings,
an API key): every test is a warm invocation of the same execution environment. Both
payload formats are covered: REST API proxy events (v1, ``events/api-rest-*.json``) and
HTTP API events (v2, ``events/api-http-*.json``); requests are built from those samples.

Indexing with the embedded runner: Mangum runs the event loop only inside an invocation,
so the LocalRunner's background tasks progress only while some request is being served
(see ``test_background_indexing_only_runs_inside_invocations``).
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.functional.corpus import CORPUS

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "functions" / "api" / "handler.py"
EVENTS = ROOT / "events"
API_KEY = "handler-test-key-" + "k" * 32
KINDS = ("rest", "http")


@dataclass
class FakeContext:
    """The attributes of the Lambda context object that Mangum and loggers read."""

    function_name: str = "lambdarag-api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lambdarag-api"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "6f1d2c9e-0000-4000-8000-000000000001"
    log_group_name: str = "/aws/lambda/lambdarag-api"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: dict[str, Any] = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def rest_event(method: str, path: str, body: str | None, headers: dict[str, str],
               query: str, b64: bool) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api-rest-get-health.json"))
    merged = {**event["headers"], **headers}
    params = parse_qsl(query)
    event.update(
        path=path, httpMethod=method, body=body, isBase64Encoded=b64, headers=merged,
        multiValueHeaders={k: [v] for k, v in merged.items()},
        pathParameters={"proxy": path.lstrip("/")},
        queryStringParameters=dict(params) or None,
        multiValueQueryStringParameters={k: [v for n, v in params if n == k]
                                         for k, _ in params} or None,
    )
    event["requestContext"].update(httpMethod=method, path=f"/prod{path}")
    return event


def http_event(method: str, path: str, body: str | None, headers: dict[str, str],
               query: str, b64: bool) -> dict[str, Any]:
    event = copy.deepcopy(load_event("api-http-get-health.json"))
    event["headers"].update({k.lower(): v for k, v in headers.items()})
    event["headers"]["content-length"] = str(len(body or ""))
    event.update(rawPath=path, rawQueryString=query, isBase64Encoded=b64)
    event.pop("queryStringParameters", None)
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query))
    if body is not None:
        event["body"] = body
    event["requestContext"]["http"].update(method=method, path=path)
    return event


def decode(kind: str, response: dict[str, Any]) -> Reply:
    """The status, headers and body bytes of a Lambda proxy response of either format."""
    assert isinstance(response["statusCode"], int)
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in response["headers"].items()}
    if kind == "rest":  # v1: repeated headers (set-cookie) go to multiValueHeaders
        headers |= {k.lower(): ", ".join(v) for k, v in response["multiValueHeaders"].items()}
    return Reply(response["statusCode"], headers, raw, response)


class Api:
    """Invokes the handler with events of one API Gateway payload format."""

    def __init__(self, module: ModuleType, kind: str) -> None:
        self.module = module
        self.kind = kind
        self.invocations = 0

    def invoke(self, event: dict[str, Any]) -> Reply:
        self.invocations += 1
        return decode(self.kind, self.module.handler(event, FakeContext()))

    def request(self, method: str, path: str, *, json_body: Any = None, body: str | None = None,
                headers: dict[str, str] | None = None, query: str = "", b64: bool = False,
                key: str | None = API_KEY) -> Reply:
        sent = {"X-API-Key": key} if key else {}
        if json_body is not None:
            body = json.dumps(json_body)
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        build = rest_event if self.kind == "rest" else http_event
        return self.invoke(build(method, path, body, sent, query, b64))


@pytest.fixture(scope="module")
def lambda_module(tmp_path_factory: pytest.TempPathFactory,
                  fake_llm_session: FakeLLMServer) -> Iterator[ModuleType]:
    """functions/api/handler.py imported once, as in a fresh execution environment."""
    tmp = tmp_path_factory.mktemp("lambda")
    env = {
        "WORKING_DIR": str(tmp / "rag_storage"), "INPUT_DIR": str(tmp / "inputs"),
        "LLM_BINDING": "openai", "LLM_MODEL": "fake-llm",
        "LLM_BINDING_HOST": fake_llm_session.openai_url,
        "EMBEDDING_BINDING": "openai", "EMBEDDING_MODEL": "fake-embed",
        "EMBEDDING_BINDING_HOST": fake_llm_session.openai_url, "EMBEDDING_DIM": "1024",
        "LLM_MAX_RETRIES": "2", "LIGHTRAG_API_KEY": API_KEY,
        "AWS_LAMBDA_FUNCTION_NAME": "lambdarag-api",
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)  # no stray .env
        patch.delenv("LAMBDARAG_SECRET_ARN", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("lambdarag_api_handler", HANDLER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        try:
            yield module
        finally:
            sys.modules.pop(spec.name, None)
            if module._lifespan is not None:
                module.loop.run_until_complete(module._lifespan.__aexit__(None, None, None))
            module.loop.close()


@pytest.fixture(params=KINDS)
def api(request: pytest.FixtureRequest, lambda_module: ModuleType) -> Api:
    return Api(lambda_module, request.param)


def wait_processed(api: Api, track_id: str, polls: int = 400) -> list[dict[str, Any]]:
    """Poll track_status through the handler; each poll is an invocation that runs the loop."""
    for _ in range(polls):
        reply = api.request("GET", f"/documents/track_status/{track_id}")
        assert reply.status == 200, reply.text
        docs = reply.json()["documents"]
        if docs and all(d["status"] in {"processed", "failed"} for d in docs):
            return docs
        time.sleep(0.02)
    raise AssertionError(f"{track_id} not finished after {polls} invocations")


# --------------------------------------------------------------------------- samples


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("api-*.json")))
def test_stored_samples_answer(lambda_module: ModuleType, name: str) -> None:
    # GIVEN a stored API Gateway sample event WHEN the handler gets it as is
    kind = "rest" if name.startswith("api-rest-") else "http"
    event = load_event(name)
    if kind == "rest":
        assert {"multiValueHeaders", "requestContext", "isBase64Encoded"} <= event.keys()
        event["headers"]["X-API-Key"] = API_KEY
        event["multiValueHeaders"]["X-API-Key"] = [API_KEY]
    else:
        assert event["version"] == "2.0" and "rawQueryString" in event and "cookies" in event
        event["headers"]["x-api-key"] = API_KEY
    reply = Api(lambda_module, kind).invoke(event)
    # THEN it answers without a server error (uploads may be 409 once the file is stored)
    assert reply.status in {200, 409}, (name, reply.status, reply.text)


# ------------------------------------------------------------------------ behaviour


def test_health(api: Api) -> None:
    reply = api.request("GET", "/health", key=None)
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "healthy"
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.raw["isBase64Encoded"] is False


def test_one_engine_for_every_warm_invocation(api: Api, lambda_module: ModuleType) -> None:
    # GIVEN a warm handler WHEN it serves several requests
    api.request("GET", "/health", key=None)
    engine = lambda_module.app.state.engine
    for _ in range(5):
        assert api.request("GET", "/documents/status_counts").status == 200
    # THEN the Engine made by the first invocation's lifespan serves them all
    assert lambda_module.app.state.engine is engine


def test_api_key_required(api: Api) -> None:
    # LightRAG's answers: 403 "API Key required" / "Invalid API Key"; with the key, 200
    for key, detail in ((None, "API Key required"), ("wrong-" + "x" * 40, "Invalid API Key")):
        reply = api.request("GET", "/documents/status_counts", key=key)
        assert (reply.status, reply.json()["detail"]) == (403, detail)
    assert api.request("GET", "/documents/status_counts").status == 200
    # AND an API key sent as a Bearer token on a protected route that does not take it: 401
    reply = api.request("GET", "/documents/status_counts", key=None,
                        headers={"Authorization": "Bearer not-a-token"})
    assert reply.status == 401, reply.text


def test_bad_json_is_4xx(api: Api) -> None:
    reply = api.request("POST", "/query", body="{not json",
                        headers={"Content-Type": "application/json"})
    assert 400 <= reply.status < 500, reply.text
    assert "detail" in reply.json()


def test_insert_index_and_query(api: Api) -> None:
    # GIVEN a text posted through API Gateway
    reply = api.request("POST", "/documents/text", json_body={
        "text": f"{CORPUS['acme.txt']} ({api.kind})", "file_source": f"acme-{api.kind}.txt"})
    assert reply.status == 200, reply.text
    # WHEN later invocations arrive THEN the document gets processed
    docs = wait_processed(api, reply.json()["track_id"])
    assert [d["status"] for d in docs] == ["processed"], docs
    # AND a query answers from it
    answer = api.request("POST", "/query", json_body={"query": "Who founded Acme Corp?",
                                                      "mode": "hybrid"})
    assert answer.status == 200, answer.text
    assert answer.json()["response"]


def test_background_indexing_only_runs_inside_invocations(api: Api,
                                                          lambda_module: ModuleType) -> None:
    # GIVEN a document posted: the invocation returns once it is stored as PENDING
    reply = api.request("POST", "/documents/text", json_body={
        "text": f"{CORPUS['jones.txt']} ({api.kind})", "file_source": f"jones-{api.kind}.txt"})
    assert reply.status == 200, reply.text
    runner = lambda_module.app.state.engine.runner
    # WHEN no invocation arrives for a while (on Lambda: the environment is frozen)
    time.sleep(0.5)
    # THEN nothing has progressed: the event loop only runs inside an invocation
    assert runner.is_busy("")
    # AND the next invocations drive it to the end
    docs = wait_processed(api, reply.json()["track_id"])
    assert [d["status"] for d in docs] == ["processed"]


def test_query_stream_is_ndjson(api: Api) -> None:
    reply = api.request("POST", "/query/stream", json_body={
        "query": "Who founded Acme Corp?", "mode": "naive", "stream": True})
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    assert reply.raw["isBase64Encoded"] is False  # text: a REST API passes it as is
    lines = [json.loads(line) for line in reply.text.splitlines() if line.strip()]
    assert lines and any("response" in line for line in lines), lines


def test_ollama_chat_stream_ends_with_done(api: Api) -> None:
    event_body = load_event("api-http-post-chat-stream.json")["body"]
    reply = api.request("POST", "/api/chat", body=event_body,
                        headers={"Content-Type": "application/json"}, key=None)
    assert reply.status == 200, reply.text
    lines = [json.loads(line) for line in reply.text.splitlines() if line.strip()]
    assert len(lines) >= 2
    assert lines[-1]["done"] is True
    assert all(line["done"] is False for line in lines[:-1])
    assert "".join(line["message"]["content"] for line in lines[:-1])


def test_openai_chat_stream_is_sse(api: Api) -> None:
    reply = api.request("POST", "/v1/chat/completions", json_body={
        "model": "lightrag:latest", "stream": True,
        "messages": [{"role": "user", "content": "Who founded Acme Corp?"}]})
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    data = [line.removeprefix("data: ") for line in reply.text.splitlines()
            if line.startswith("data:")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    # AND the OpenAI SDK's own SSE decoder reads the buffered body
    from openai._streaming import SSEDecoder

    events = list(SSEDecoder().iter_bytes(iter([reply.body])))
    assert [e.data for e in events] == data


def test_binary_multipart_upload(api: Api) -> None:
    # GIVEN the stored upload sample: a base64 multipart body (isBase64Encoded: true)
    sample = load_event(f"api-{api.kind}-post-upload.json")
    content_type = next(v for k, v in sample["headers"].items() if k.lower() == "content-type")
    raw = base64.b64decode(sample["body"]).replace(b"helios.txt", f"helios-{api.kind}.txt".encode())
    raw = raw.replace(b"Space Weekly", f"Space Weekly {api.kind}".encode())  # not a duplicate
    reply = api.request("POST", "/documents/upload", body=base64.b64encode(raw).decode(),
                        headers={"Content-Type": content_type}, b64=True)
    assert reply.status == 200, reply.text
    assert reply.json()["status"] == "success"
    docs = wait_processed(api, reply.json()["track_id"])
    assert [d["status"] for d in docs] == ["processed"], docs


def test_query_string_and_workspace_header(api: Api) -> None:
    # GIVEN a query string with an encoded space, and another workspace in a header
    reply = api.request("GET", "/graph/entity/exists", query="name=No%20Such%20Entity",
                        headers={"LIGHTRAG-WORKSPACE": f"other_{api.kind}"})
    assert reply.status == 200, reply.text
    assert reply.json() == {"exists": False}
    # AND without the parameter FastAPI's 422 comes back through API Gateway
    assert api.request("GET", "/graph/entity/exists").status == 422


def test_httpx_client_over_the_handler(lambda_module: ModuleType) -> None:
    """A plain HTTP client, translated to v2 events: headers and bodies survive the trip."""

    def transport(request: httpx.Request) -> httpx.Response:
        reply = Api(lambda_module, "http").request(
            request.method, request.url.path, body=request.content.decode() or None,
            headers=dict(request.headers), query=request.url.query.decode())
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body)

    with httpx.Client(transport=httpx.MockTransport(transport),
                      base_url="https://api.example") as client:
        assert client.get("/health").json()["status"] == "healthy"
