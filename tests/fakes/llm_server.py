"""A fake LLM/embedding/rerank server: OpenAI, Azure OpenAI, Ollama, lollms, Cohere/Jina and
Aliyun rerank protocols.

It is a real HTTP server (uvicorn in a background thread, 127.0.0.1, ephemeral port), so
bindings are tested over the wire. Answers come from :mod:`tests.fakes.brain`; faults,
delays and the requests seen are controlled and observed from the test::

    with FakeLLMServer(dim=64) as server:
        server.fail_next(2, status=503)
        llm = OpenAIChat(LLMConfig("openai", "fake-llm", server.openai_url))
        ...
        assert len(server.requests) == 3

Standalone, for pointing ``lambdarag serve`` at it::

    python -m tests.fakes.llm_server --port 11500
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.ledger import Call
from tests.fakes.routes import FakeHTTPError, router

logger = logging.getLogger(__name__)

DEFAULT_DIM = 1024


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: float | str | None


class FakeLLMServer:
    """The fake provider; thread-safe controls for tests.

    Parameters
    ----------
    dim:
        Embedding size when a request does not ask for ``dimensions``.
    api_key:
        When set, requests must carry it (``Authorization: Bearer`` or ``api-key``) or get 401.
    host, port:
        Where to listen; port 0 picks a free port.

    Attributes
    ----------
    delay:
        Seconds to wait before answering each request.
    chat_delay:
        Extra seconds for chat/generate requests only (a slow LLM, fast embeddings).
    embedding_delay:
        Extra seconds for embedding requests only.
    rerank_delay:
        Extra seconds for rerank requests only.
    calls:
        One :class:`~tests.fakes.ledger.Call` per request (kind, start, end, size), for
        provider-side measurements; see :mod:`tests.fakes.ledger`.
    rerank_order:
        ``"relevance"`` (query words found) or ``"reverse"`` (the documents' order reversed).
    keep_bodies:
        Whether :attr:`requests` keeps each body (True); a long benchmark sets it False
        and reads :attr:`calls` only.
    """

    def __init__(
        self,
        *,
        dim: int = DEFAULT_DIM,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._defaults = (dim, api_key)
        self.dim = dim
        self.api_key = api_key
        self.delay = 0.0
        self.chat_delay = 0.0
        self.embedding_delay = 0.0
        self.rerank_order = "relevance"
        self.rerank_delay = 0.0
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[tuple[str, Any]] = []
        self._calls: list[Call] = []
        self.keep_bodies = True
        self._in_flight = 0
        self._max_concurrent = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = build_app(self)

    # --- controls -----------------------------------------------------------------

    def fail_next(
        self, n: int = 1, *, status: int = 503, retry_after: float | str | None = None
    ) -> None:
        """Answer the next ``n`` requests with ``status`` (and a ``Retry-After`` header)."""
        with self._lock:
            self._faults.extend(Fault(status, retry_after) for _ in range(n))

    def reset(self) -> None:
        """Forget requests, calls, faults, delays and peak concurrency; restore dim and api_key."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._calls = [c for c in self._calls if c.ended is None]
            self._max_concurrent = self._in_flight
            self.delay = 0.0
            self.chat_delay = 0.0
            self.embedding_delay = 0.0
            self.rerank_order = "relevance"
            self.rerank_delay = 0.0
            self.keep_bodies = True
            self.dim, self.api_key = self._defaults

    @property
    def requests(self) -> list[tuple[str, Any]]:
        """``(path, json body)`` of every request so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> list[Call]:
        """Every request so far as a :class:`Call`, in arrival order (in-flight ones too)."""
        with self._lock:
            return list(self._calls)

    @property
    def max_concurrent(self) -> int:
        """The most requests in flight at once (a stream counts until its last byte)."""
        with self._lock:
            return self._max_concurrent

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    # --- used by the routes ---------------------------------------------------------

    def record(self, path: str, body: Any) -> Fault | None:
        """Log a request and return the fault it must get, if one is queued."""
        with self._lock:
            self._requests.append((path, body if self.keep_bodies else None))
            return self._faults.popleft() if self._faults else None

    def enter(self, path: str = "") -> Call:
        call = Call(path, time.monotonic())
        with self._lock:
            self._in_flight += 1
            self._max_concurrent = max(self._max_concurrent, self._in_flight)
            self._calls.append(call)
        return call

    def leave(self, call: Call | None = None) -> None:
        with self._lock:
            self._in_flight -= 1
            if call is not None:
                call.ended = time.monotonic()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only for such
        # sockets. Without it, every answer on a kept-alive connection waits ~40 ms for
        # the client's delayed ACK (headers and body are two writes: Nagle holds the body).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(self._uvicorn_config())
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-llm"
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fake LLM server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def run_forever(self) -> None:
        """Serve in the calling thread until interrupted (the standalone mode)."""
        config = self._uvicorn_config()
        config.host, config.port = self.host, self.port
        uvicorn.Server(config).run()

    def _uvicorn_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class InFlightCounter:
    """ASGI middleware counting requests in flight, up to the last byte of the response."""

    def __init__(self, app: ASGIApp, fake: FakeLLMServer) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        done = False
        call = self.fake.enter(scope.get("path", ""))
        scope.setdefault("state", {})["fake_call"] = call  # the route fills in kind and size

        async def counting_send(message: Message) -> None:
            nonlocal done
            is_last = message["type"] == "http.response.body" and not message.get("more_body")
            if is_last and not done:
                done = True
                self.fake.leave(call)  # before the client can see the end and send the next one
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if not done:
                self.fake.leave(call)


def build_app(fake: FakeLLMServer) -> FastAPI:
    app = FastAPI(title="fake LLM server")
    app.state.fake = fake
    app.include_router(router)
    app.add_middleware(InFlightCounter, fake=fake)
    app.add_exception_handler(FakeHTTPError, _fake_error_response)  # type: ignore[arg-type]
    return app


async def _fake_error_response(request: Request, exc: FakeHTTPError) -> JSONResponse:
    body = {"error": {"message": exc.message, "type": "fake_error", "code": exc.status}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11500)
    parser.add_argument("--dim", type=int, default=DEFAULT_DIM)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--chat-delay", type=float, default=0.0, help="extra seconds per chat call")
    args = parser.parse_args(argv)
    server = FakeLLMServer(dim=args.dim, api_key=args.api_key, host=args.host, port=args.port)
    server.delay, server.chat_delay = args.delay, args.chat_delay
    print(f"fake LLM server on {server.url}")
    print(f"  openai:  LLM_BINDING_HOST={server.openai_url}")
    print(f"  ollama:  LLM_BINDING_HOST={server.url}  (lollms and azure_openai: the same)")
    print(f"  embeddings: EMBEDDING_DIM={args.dim}")
    print(f"  rerank:  RERANK_BINDING=cohere RERANK_BINDING_HOST={server.url}/v1/rerank")
    server.run_forever()


if __name__ == "__main__":
    main()
