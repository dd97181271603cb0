"""Whether each provider's host answers: checked at start-up, cached for ``/health``.

A probe is one HTTP GET of the configured host with a short timeout. Any HTTP answer,
even a 404, means the host is reachable; a refused connection, an unknown name or no
answer in time means it is not, in the words the bindings use when a request fails
(``LLM host http://localhost:11434 (LLM_BINDING_HOST) is unreachable: connection
refused; check that the server is running``). Hosts without a URL (Bedrock) are not
probed. Results are kept ``ttl`` seconds, so a health check costs nothing most of the time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import httpx

from lambdarag.llm.base import EmbeddingConfig, LLMConfig, RerankConfig
from lambdarag.llm.retry import Target, transport_error

PROBE_TIMEOUT = 2.0
PROBE_TTL = 15.0


@dataclass(frozen=True)
class Reachability:
    reachable: bool | None  # None: not probed (no URL to probe)
    checked_at: float | None = None  # epoch seconds
    error: str | None = None


class ProviderProbe:
    """Probes one provider's host; the last result is reused for ``ttl`` seconds.

    Parameters
    ----------
    config:
        The binding's settings: its host and the setting that names it.
    binding:
        The binding's name, shown by ``/health``.
    timeout, ttl:
        Seconds a probe may take, and seconds its result is reused.

    Examples
    --------
    >>> probe = ProviderProbe(settings.llm_config())
    >>> (await probe.check()).reachable
    True
    """

    def __init__(self, config: LLMConfig | EmbeddingConfig | RerankConfig, *,
                 timeout: float = PROBE_TIMEOUT, ttl: float = PROBE_TTL) -> None:
        self.binding = config.binding
        self.target = dataclasses.replace(Target.of(config), timeout=timeout)
        self.ttl = ttl
        self._last = Reachability(None)
        self._checked = float("-inf")  # monotonic time of the last probe
        self._lock = asyncio.Lock()

    @property
    def probed(self) -> bool:
        return self.target.host.startswith(("http://", "https://"))

    async def check(self) -> Reachability:
        """The cached result, or a fresh probe once it is older than ``ttl``."""
        if not self.probed:
            return self._last
        async with self._lock:
            if time.monotonic() - self._checked >= self.ttl:
                self._last = await self._probe()
                self._checked = time.monotonic()
        return self._last

    async def _probe(self) -> Reachability:
        try:
            async with httpx.AsyncClient(timeout=self.target.timeout) as client:
                await client.get(self.target.host)
        except httpx.TransportError as exc:
            return Reachability(False, time.time(), str(transport_error(exc, self.target)
                                                        .final(self.target)))
        except httpx.HTTPError as exc:  # an invalid URL: the request would fail the same way
            return Reachability(False, time.time(), f"{self.target.where} is not a valid URL "
                                                    f"({exc}); write it with http:// or https://")
        return Reachability(True, time.time())

    def report(self, found: Reachability) -> dict[str, Any]:
        """What ``/health`` shows of this provider."""
        return {"binding": self.binding, "host": self.target.host,
                "setting": self.target.host_setting, "reachable": found.reachable,
                "checked_at": found.checked_at, "error": found.error}
