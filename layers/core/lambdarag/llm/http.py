"""The template every httpx-based binding is written on: request, limit, timeout, retry, errors.

:class:`HttpClient` sends a request under the binding's MAX_ASYNC limit and timeout,
retries transient failures with the one policy of :mod:`lambdarag.llm.retry`, and maps
every failure to the binding errors. :class:`HttpChat` and :class:`HttpEmbedding` are
the template methods on top of it: a protocol (OpenAI, Azure OpenAI, Ollama, lollms)
only says where to send, what to send and how to read the answer.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import httpx

from lambdarag.llm.base import (
    ChatMessage,
    EmbeddingConfig,
    LLMBinding,
    LLMConfig,
    LLMConfigError,
    LLMResponseError,
    RerankConfig,
)
from lambdarag.llm.embedding import BatchedEmbedding
from lambdarag.llm.retry import Backoff, Target, check_response, transport_error, trim, with_retries


def bearer(api_key: str | None) -> dict[str, str]:
    """The ``Authorization`` header for ``api_key``, or none when there is no key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class HttpClient:
    """One ``httpx.AsyncClient`` with the binding's concurrency limit and retry policy.

    Parameters
    ----------
    target:
        The endpoint, named for error messages.
    max_async:
        Requests in flight at once; a stream holds its slot until it ends.
    max_retries:
        Retries of a transient failure (429, 5xx, connection errors, timeouts).
    backoff:
        Wait policy between retries.
    headers:
        Headers sent with every request (authentication).

    Examples
    --------
    >>> http = HttpClient(target, max_async=4, max_retries=5, backoff=Backoff())
    >>> data = await http.post_json("http://localhost:11434/api/chat", body)
    """

    def __init__(
        self,
        target: Target,
        *,
        max_async: int,
        max_retries: int,
        backoff: Backoff,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.target = target
        self._limit = asyncio.Semaphore(max_async)
        self._max_retries = max_retries
        self._backoff = backoff
        self._client = httpx.AsyncClient(timeout=target.timeout, headers=headers)

    @classmethod
    def for_config(
        cls,
        config: LLMConfig | EmbeddingConfig | RerankConfig,
        backoff: Backoff | None,
        headers: dict[str, str] | None = None,
    ) -> HttpClient:
        """The client a binding needs: its host, timeout, MAX_ASYNC and retry budget."""
        return cls(
            Target.of(config),
            max_async=config.max_async,
            max_retries=config.max_retries,
            backoff=backoff or Backoff(),
            headers=headers,
        )

    async def post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        """POST ``body`` as JSON and return the successful, fully read response."""

        async def attempt() -> httpx.Response:
            async with self._limit:
                return await self._send(url, body, stream=False)

        return await self._retrying(attempt)

    async def post_json(self, url: str, body: dict[str, Any]) -> Any:
        """POST ``body`` as JSON and return the decoded JSON answer."""
        return self.decode(await self.post(url, body))

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of a successful response; LLMResponseError when it is not JSON."""
        try:
            return response.json()
        except ValueError as exc:
            raise LLMResponseError(
                f"{self.target.where} answered with invalid JSON: {trim(response.text)}"
            ) from exc

    @asynccontextmanager
    async def stream(self, url: str, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """POST ``body`` and yield the open response; retries happen before the first byte."""
        async with self._limit:
            response = await self._retrying(lambda: self._send(url, body, stream=True))
            try:
                yield response
            except httpx.TransportError as exc:
                raise transport_error(exc, self.target).final(
                    self.target, " while streaming") from exc
            finally:
                await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _retrying(self, attempt: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        return await with_retries(
            attempt, target=self.target, max_retries=self._max_retries, backoff=self._backoff
        )

    async def _send(self, url: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        try:
            request = self._client.build_request("POST", url, json=body)
            response = await self._client.send(request, stream=stream)
            if stream and response.status_code >= 400:
                await _read_and_close(response)  # check_response needs the error text
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise LLMConfigError(
                f"{self.target.label} host {self.target.host!r} ({self.target.host_setting}) "
                "is not a valid URL; write it with http:// or https://"
            ) from exc
        except httpx.TransportError as exc:
            raise transport_error(exc, self.target) from exc
        check_response(response, self.target)
        return response


async def _read_and_close(response: httpx.Response) -> None:
    try:
        await response.aread()
    finally:
        await response.aclose()


class OverHttp(ABC):
    """What an HTTP binding holds: its client (limit, timeout, retries), URL and credentials."""

    config: LLMConfig | EmbeddingConfig | RerankConfig
    path: ClassVar[str] = ""  # the protocol's route below ``config.host``

    def _connect(self, backoff: Backoff | None) -> None:
        self._http = HttpClient.for_config(self.config, backoff, self._auth_headers())
        self._url = self._endpoint()

    def _auth_headers(self) -> dict[str, str]:
        return bearer(self.config.api_key)

    def _endpoint(self) -> str:
        """The URL requests go to: ``path`` below the configured host."""
        return f"{self.config.host.rstrip('/')}{self.path}"

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def _where(self) -> str:
        return self._http.target.where


class HttpChat(OverHttp, LLMBinding):
    """A chat binding over HTTP: the request and the stream written once.

    A protocol sets ``path`` (or overrides ``_endpoint``) and fills in :meth:`_body`, :meth:`_reply` and :meth:`_deltas`
    (and ``_auth_headers`` when it is not a bearer token).

    Parameters
    ----------
    config:
        The binding's settings (host, model, timeout, MAX_ASYNC, retries, options).
    backoff:
        Retry wait policy; tests shrink it.
    """

    config: LLMConfig

    def __init__(self, config: LLMConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._connect(backoff)

    @abstractmethod
    def _body(self, messages: list[ChatMessage], *, stream: bool, json_mode: bool) -> dict[str, Any]:
        """The request body for the conversation ``messages``."""

    @abstractmethod
    def _reply(self, response: httpx.Response) -> str:
        """The answer text of a complete (not streamed) response."""

    @abstractmethod
    def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        """The answer's text deltas from an open streamed response."""

    async def _complete(self, messages: list[ChatMessage], *, json_mode: bool) -> str:
        body = self._body(messages, stream=False, json_mode=json_mode)
        return self._reply(await self._http.post(self._url, body))

    async def _stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        body = self._body(messages, stream=True, json_mode=False)
        async with self._http.stream(self._url, body) as response:
            async for delta in self._deltas(response):
                yield delta


class HttpEmbedding(OverHttp, BatchedEmbedding):
    """An embedding binding over HTTP: a protocol sets ``path`` (or overrides ``_endpoint``)
    and fills in ``_embed_batch`` (posting with ``self._http``)."""

    config: EmbeddingConfig

    def __init__(self, config: EmbeddingConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._connect(backoff)
