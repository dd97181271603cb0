"""Rerank bindings: Cohere and Jina (one protocol), and Aliyun DashScope's text-rerank.

A reranker scores each document against the query; retrieval then orders its chunks by
that score and drops those under ``MIN_RERANK_SCORE``. ``RERANK_BINDING_HOST`` is the
full endpoint, as in LightRAG. Requests go through :class:`~lambdarag.llm.http.HttpClient`
(the :class:`~lambdarag.llm.http.OverHttp` template of the chat and embedding bindings), so
the limit (``MAX_ASYNC_RERANK``), the timeout (``RERANK_TIMEOUT``), the retries and the error
words are theirs.

Cohere ``/v1/rerank`` and ``/v2/rerank`` and Jina ``/v1/rerank``::

    {"model", "query", "documents": [str], "top_n"} -> {"results": [{"index", "relevance_score"}]}

DashScope ``/api/v1/services/rerank/text-rerank/text-rerank``::

    {"model", "input": {"query", "documents"}, "parameters": {"top_n", "return_documents"}}
    -> {"output": {"results": [{"index", "relevance_score"}]}}
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from lambdarag.llm import tokenizer
from lambdarag.llm.base import LLMConfigError, LLMResponseError, RerankConfig
from lambdarag.llm.http import OverHttp
from lambdarag.llm.retry import Backoff, trim

# LightRAG's defaults per binding: (RERANK_MODEL, RERANK_BINDING_HOST)
DEFAULTS: dict[str, tuple[str, str]] = {
    "cohere": ("rerank-v3.5", "https://api.cohere.com/v2/rerank"),
    "jina": ("jina-reranker-v2-base-multilingual", "https://api.jina.ai/v1/rerank"),
    "aliyun": ("gte-rerank-v2",
               "https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank"),
}
RERANK_BINDINGS = ("null", *DEFAULTS)
WINDOW_OVERLAP = 32  # tokens shared by consecutive windows of a long document (LightRAG's)


class RerankBinding(OverHttp):
    """Scores documents against a query.

    Parameters
    ----------
    config:
        Endpoint, model, key, timeout, concurrency and retry budget.
    backoff:
        Retry wait policy; tests shrink it.

    Examples
    --------
    >>> reranker = create_rerank(RerankConfig("cohere", "rerank-v3.5", "https://api.cohere.com/v2/rerank"))
    >>> await reranker.rerank("Who founded Acme?", ["Acme was founded by Alice.", "Bob cooks."], 2)
    [(0, 0.93), (1, 0.02)]
    """

    config: RerankConfig

    def __init__(self, config: RerankConfig, *, backoff: Backoff | None = None) -> None:
        self.config = config
        self._connect(backoff)

    def _endpoint(self) -> str:
        return self.config.host

    async def rerank(
        self, query: str, documents: Sequence[str], top_n: int
    ) -> list[tuple[int, float]]:
        """``(document index, relevance score)`` of the best ``top_n``, best first.

        With RERANK_ENABLE_CHUNKING a document over RERANK_MAX_TOKENS_PER_DOC is sent as
        overlapping windows of that size (a model with a short input limit then sees all of
        it), every window is scored, and a document scores as its best window.
        """
        if not documents:
            return []
        if not self.config.enable_chunking:
            return await self._scored(query, documents, top_n)
        pieces, owners = windows(documents, self.config.max_tokens_per_doc)
        best: dict[int, float] = {}
        for index, score in await self._scored(query, pieces, len(pieces)):
            best[owners[index]] = max(score, best.get(owners[index], score))
        return sorted(best.items(), key=lambda pair: -pair[1])[:top_n]

    async def _scored(self, query: str, documents: Sequence[str],
                      top_n: int) -> list[tuple[int, float]]:
        data = await self._http.post_json(self._url, self._body(query, documents, top_n))
        results = self._results(data)
        try:
            scored = [(int(r["index"]), float(r["relevance_score"])) for r in results]
        except (KeyError, TypeError, ValueError) as exc:
            raise LLMResponseError(
                f"{self._where} sent rerank results without index and "
                f"relevance_score: {trim(str(data))}"
            ) from exc
        if any(not 0 <= index < len(documents) for index, _ in scored):
            raise LLMResponseError(
                f"{self._where} ranked a document that was not sent: {trim(str(data))}"
            )
        return sorted(scored, key=lambda pair: -pair[1])[:top_n]

    @abstractmethod
    def _body(self, query: str, documents: Sequence[str], top_n: int) -> dict[str, Any]: ...

    @abstractmethod
    def _results(self, data: Any) -> list[Any]: ...

    def _listed(self, results: Any, data: Any) -> list[Any]:
        if not isinstance(results, list):
            raise LLMResponseError(f"{self._where} sent no rerank results: {trim(str(data))}")
        return results

    @property
    def identity(self) -> str:
        return f"{self.config.binding}:{self.config.model}"


def windows(documents: Sequence[str], size: int,
            overlap: int = WINDOW_OVERLAP) -> tuple[list[str], list[int]]:
    """Each document, or its windows of ``size`` tokens overlapping by ``overlap`` when it is
    longer, and the index of the document each piece comes from."""
    overlap = min(overlap, size // 2)
    pieces: list[str] = []
    owners: list[int] = []
    for index, document in enumerate(documents):
        tokens = tokenizer.encode(document)
        if len(tokens) <= size:
            spans = [document]
        else:
            spans = [tokenizer.decode(tokens[start:start + size])
                     for start in tokenizer.window_starts(len(tokens), size, overlap)]
        pieces += spans
        owners += [index] * len(spans)
    return pieces, owners


class StandardRerank(RerankBinding):
    """Cohere's and Jina's rerank protocol (also vLLM's, LiteLLM's and Xinference's)."""

    def _body(self, query: str, documents: Sequence[str], top_n: int) -> dict[str, Any]:
        return {"model": self.config.model, "query": query, "documents": list(documents),
                "top_n": top_n}

    def _results(self, data: Any) -> list[Any]:
        return self._listed(data.get("results") if isinstance(data, dict) else None, data)


class AliyunRerank(RerankBinding):
    """Aliyun DashScope's text-rerank protocol: input and parameters nested."""

    def _body(self, query: str, documents: Sequence[str], top_n: int) -> dict[str, Any]:
        return {"model": self.config.model,
                "input": {"query": query, "documents": list(documents)},
                "parameters": {"top_n": top_n, "return_documents": False}}

    def _results(self, data: Any) -> list[Any]:
        output = data.get("output") if isinstance(data, dict) else None
        return self._listed(output.get("results") if isinstance(output, dict) else None, data)


def create_rerank(config: RerankConfig, *, backoff: Backoff | None = None) -> RerankBinding:
    """The rerank binding named by ``config.binding`` (``RERANK_BINDING``)."""
    if config.binding in ("cohere", "jina"):
        return StandardRerank(config, backoff=backoff)
    if config.binding == "aliyun":
        return AliyunRerank(config, backoff=backoff)
    raise LLMConfigError(
        f"unknown RERANK_BINDING {config.binding!r}; use one of: {', '.join(RERANK_BINDINGS)}")
