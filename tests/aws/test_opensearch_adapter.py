"""OpenSearch vector adapter: what the storage contract suite does not cover.

The contract suite (``LAMBDARAG_CONTRACT_BACKENDS=opensearch``) checks the behaviour; these
tests check the OpenSearch side: settings and env names, index names, the mapping on the node,
score conversion, bulk bounds, 429 retries, deletes by document, errors, and SigV4 signers
(built offline: there is no SigV4 endpoint to call here).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from lambdarag.config import OpenSearchEnv
from lambdarag.storage.base import StorageError, StoreUnavailableError
from lambdarag.storage.opensearch import (
    OpenSearchSettings,
    OpenSearchVectors,
    OpenSearchVectorStorage,
    auth_for,
    cosine_from_score,
    delete_indices,
    index_name,
    make_client,
    open_vectors,
)
from tests.aws.conftest import HOST, LocalAws, require_service

# ------------------------------------------------------------------ no server needed


def test_settings_read_lightrag_names_and_lambdarag_extras() -> None:
    env = {
        "OPENSEARCH_HOSTS": "https://a.example:443, https://b.example:443",
        "OPENSEARCH_USER": "admin",
        "OPENSEARCH_PASSWORD": "secret",
        "OPENSEARCH_VERIFY_CERTS": "false",
        "OPENSEARCH_TIMEOUT": "12",
        "OPENSEARCH_MAX_RETRIES": "5",
        "OPENSEARCH_KNN_M": "24",
        "OPENSEARCH_KNN_EF_CONSTRUCTION": "256",
        "OPENSEARCH_KNN_EF_SEARCH": "64",
        "LAMBDARAG_OPENSEARCH_ENGINE": "FAISS",
        "LAMBDARAG_OPENSEARCH_INDEX_PREFIX": "prod",
        "LAMBDARAG_OPENSEARCH_REFRESH": "wait_for",
        "LAMBDARAG_OPENSEARCH_BULK_DOCS": "100",
    }

    settings = OpenSearchEnv.from_mapping(env).adapter()

    assert settings.hosts == ("https://a.example:443", "https://b.example:443")
    assert (settings.user, settings.password) == ("admin", "secret")
    assert settings.use_ssl is True  # https hosts imply TLS unless OPENSEARCH_USE_SSL says no
    assert settings.verify_certs is False
    assert (settings.timeout, settings.max_retries) == (12.0, 5)
    assert (settings.m, settings.ef_construction, settings.ef_search) == (24, 256, 64)
    assert (settings.engine, settings.index_prefix, settings.refresh) == (
        "faiss",
        "prod",
        "wait_for",
    )
    assert settings.bulk_docs == 100
    assert "secret" not in repr(settings)
    assert auth_for(settings) == ("admin", "secret")


def test_settings_defaults_and_validation() -> None:
    settings = OpenSearchEnv.from_mapping({}).adapter()
    assert settings.hosts == ("localhost:9200",)
    assert (settings.engine, settings.space_type, settings.replicas) == (
        "lucene",
        "innerproduct",
        0,
    )
    assert auth_for(settings) is None
    with pytest.raises(ValueError, match="engine"):
        OpenSearchSettings(engine="annoy")
    with pytest.raises(ValueError, match="region"):
        OpenSearchEnv.from_mapping({"LAMBDARAG_OPENSEARCH_AWS_SERVICE": "es"}).adapter()


@pytest.mark.parametrize("service", ["es", "aoss"])
def test_sigv4_signer_uses_the_service_name(monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    # GIVEN AWS credentials from the environment (no network, nothing read from ~/.aws)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    env = {
        "OPENSEARCH_HOSTS": "https://search-x.eu-west-1.es.amazonaws.com",
        "LAMBDARAG_OPENSEARCH_AWS_SERVICE": service,
        "AWS_REGION": "eu-west-1",
    }

    # WHEN the client is built
    settings = OpenSearchEnv.from_mapping(env).adapter()
    client = make_client(settings)

    # THEN requests are signed for that service and region, not with basic auth
    from opensearchpy import AWSV4SignerAsyncAuth

    signer = client.transport.kwargs["http_auth"]
    assert isinstance(signer, AWSV4SignerAsyncAuth)
    assert (signer.signer.service, signer.signer.region) == (service, "eu-west-1")
    assert signer.signer.credentials.access_key == "AKIDEXAMPLE"


def test_serverless_indices_and_writes_leave_out_what_aoss_refuses() -> None:
    settings = OpenSearchSettings(aws_service="aoss", aws_region="us-east-1")
    store = OpenSearchVectorStorage(_FakeClient(), settings, "ws", "chunks", 4)

    body = store.index_body()

    assert "number_of_shards" not in body["settings"]["index"]
    assert body["settings"]["index"]["knn"] is True


def test_index_names_are_lowercase_and_keep_case_apart() -> None:
    assert index_name("lambdarag", "finance", "chunks") == "lambdarag-finance-chunks"
    assert index_name("lambdarag", "", "chunks") == "lambdarag--chunks"
    upper, lower = index_name("p", "Finance", "chunks"), index_name("p", "finance", "chunks")
    assert upper != lower and upper == upper.lower() and upper.startswith("p-finance.")
    with pytest.raises(ValueError):
        index_name("Bad", "w", "chunks")


@pytest.mark.parametrize("space", ["innerproduct", "cosinesimil"])
def test_score_conversion_inverts_opensearch_scores(space: str) -> None:
    for cosine in np.linspace(-1.0, 1.0, 41):
        if space == "cosinesimil":
            score = (1 + cosine) / 2
        else:
            score = 1 + cosine if cosine >= 0 else 1 / (1 - cosine)
        assert cosine_from_score(score, space) == pytest.approx(cosine, abs=1e-12)


class _FakeClient:
    """Just enough of AsyncOpenSearch for the bulk retry path."""

    def __init__(self, replies: list[dict[str, Any]] | None = None) -> None:
        self.replies = replies or []
        self.bodies: list[str] = []
        self.indices = self
        self.cluster = self

    async def exists(self, **_: Any) -> bool:
        return True

    async def health(self, **_: Any) -> dict[str, Any]:
        return {"status": "green", "timed_out": False}

    async def get_mapping(self, *, index: str, **_: Any) -> dict[str, Any]:
        vector = {"type": "knn_vector", "dimension": 2}
        return {index: {"mappings": {"properties": {"vector": vector}}}}

    async def bulk(self, *, body: str, **_: Any) -> dict[str, Any]:
        self.bodies.append(body)
        return self.replies.pop(0)


async def test_throttled_bulk_items_are_retried_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a cluster that throttles the second of two documents once
    monkeypatch.setattr("lambdarag.storage.opensearch.vector.asyncio.sleep", _no_sleep)
    ok, throttled = {"index": {"status": 201}}, {"index": {"status": 429, "error": {}}}
    client = _FakeClient([{"errors": True, "items": [ok, throttled]}, {"errors": False}])
    store = OpenSearchVectorStorage(client, OpenSearchSettings(), "ws", "chunks", 2)

    # WHEN upserting both
    await store.upsert([{"id": "a"}, {"id": "b"}], np.eye(2))

    # THEN only the throttled one is sent again
    assert [body.count("\n") for body in client.bodies] == [4, 2]
    assert json.loads(client.bodies[1].splitlines()[1])["id"] == "b"


async def test_rejected_bulk_items_raise_a_storage_error() -> None:
    error = {"type": "mapper_parsing_exception", "reason": "bad"}
    client = _FakeClient([{"errors": True, "items": [{"index": {"status": 400, "error": error}}]}])
    store = OpenSearchVectorStorage(client, OpenSearchSettings(), "ws", "chunks", 2)

    with pytest.raises(StorageError, match="mapper_parsing_exception: bad"):
        await store.upsert([{"id": "a"}], np.eye(2)[:1])


async def _no_sleep(_: float) -> None:
    return None


# ------------------------------------------------------------------ against the node


@pytest.fixture
async def settings(local_aws: LocalAws, unique_name: str) -> AsyncIterator[OpenSearchSettings]:
    """Settings for the local node with a unique index prefix; its indices go at the end."""
    require_service("opensearch", local_aws.opensearch_port)
    settings = OpenSearchSettings(
        hosts=(local_aws.opensearch_url,), index_prefix=unique_name.replace("_", "-")
    )
    yield settings
    admin = make_client(settings)
    try:
        await delete_indices(admin, settings.index_prefix, settings.endpoint)
    finally:
        await admin.close()


@pytest.fixture
async def vectors(settings: OpenSearchSettings) -> AsyncIterator[OpenSearchVectors]:
    made = open_vectors(settings, "Work")
    yield made
    await made.close()


async def test_the_index_mapping_follows_the_settings(vectors: OpenSearchVectors) -> None:
    store = vectors("chunks", 3)
    await store.upsert([{"id": "a", "full_doc_id": "d", "nested": {"x": [1]}}], np.eye(3)[:1])

    found = await vectors.client.indices.get(index=store.index)

    index = found[store.index]
    method = index["mappings"]["properties"]["vector"]["method"]
    assert (method["engine"], method["space_type"], method["name"]) == (
        "lucene",
        "innerproduct",
        "hnsw",
    )
    assert index["mappings"]["properties"]["vector"]["dimension"] == 3
    assert index["mappings"]["properties"]["meta"] == {"type": "object", "enabled": False}
    assert index["mappings"]["dynamic"] == "strict"
    assert index["settings"]["index"]["knn"] == "true"
    assert index["settings"]["index"]["number_of_replicas"] == "0"
    assert await store.get_by_ids(["a"]) == [{"id": "a", "full_doc_id": "d", "nested": {"x": [1]}}]


async def test_bulk_requests_respect_the_bounds(
    settings: OpenSearchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN at most 7 documents or 2 KB per bulk request
    bounded = OpenSearchSettings(**{**settings.__dict__, "bulk_docs": 7, "bulk_bytes": 2_000})
    vectors = open_vectors(bounded, "w")
    sizes: list[tuple[int, int]] = []
    real_bulk = vectors.client.bulk

    async def spy(*, body: str, **kwargs: Any) -> Any:
        sizes.append((body.count("\n") // 2, len(body.encode())))
        return await real_bulk(body=body, **kwargs)

    monkeypatch.setattr(vectors.client, "bulk", spy)
    store = vectors("chunks", 8)
    try:
        # WHEN upserting 60 documents
        items = [{"id": f"v{i}", "pad": "x" * 50} for i in range(60)]
        await store.upsert(items, np.random.default_rng(0).normal(size=(60, 8)))

        # THEN every request stayed within bounds and everything arrived
        assert sum(docs for docs, _ in sizes) == 60
        assert all(docs <= 7 and size <= 2_000 for docs, size in sizes)
        assert await store.count() == 60
    finally:
        await vectors.close()


async def test_delete_by_doc_removes_that_documents_vectors(vectors: OpenSearchVectors) -> None:
    store = vectors("chunks", 4)
    items = [{"id": f"v{i}", "full_doc_id": f"doc-{i % 2}"} for i in range(6)]
    await store.upsert(items, np.random.default_rng(1).normal(size=(6, 4)))

    assert await store.delete_by_doc("doc-1") == 3

    assert await store.count() == 3
    assert await store.get_by_ids(["v0", "v1"]) == [items[0], None]
    assert await store.delete_by_doc("no-such-doc") == 0


async def test_workspaces_differing_in_case_are_separate(vectors: OpenSearchVectors) -> None:
    other = OpenSearchVectors(vectors.client, vectors.settings, "work")
    upper, lower = vectors("chunks", 2), other("chunks", 2)
    await upper.upsert([{"id": "u"}], np.eye(2)[:1])
    await lower.upsert([{"id": "l"}], np.eye(2)[:1])

    assert upper.index != lower.index
    assert [hit["id"] for hit in await upper.query(np.eye(2)[0], 5)] == ["u"]
    assert [hit["id"] for hit in await lower.query(np.eye(2)[0], 5)] == ["l"]


async def test_reopening_with_another_dimension_is_refused(vectors: OpenSearchVectors) -> None:
    await vectors("chunks", 4).upsert([{"id": "a"}], np.ones((1, 4)))

    with pytest.raises(
        StorageError, match=r"stored vectors have 4 dimensions but 5.*EMBEDDING_DIM"
    ):
        await vectors("chunks", 5).upsert([{"id": "a"}], np.ones((1, 5)))


async def test_an_index_without_knn_mapping_is_refused(vectors: OpenSearchVectors) -> None:
    # GIVEN the store's index auto-created by a plain write (as after a racing drop)
    store = vectors("chunks", 2)
    await vectors.client.index(index=store.index, body={"stray": 1}, params={"refresh": "true"})

    with pytest.raises(StorageError, match="no knn_vector"):
        await store.upsert([{"id": "a"}], np.eye(2)[:1])


async def test_cosinesimil_space_scores_like_innerproduct(settings: OpenSearchSettings) -> None:
    cosine = OpenSearchSettings(**{**settings.__dict__, "space_type": "cosinesimil"})
    vectors = open_vectors(cosine, "w")
    store = vectors("chunks", 2)
    try:
        angles = np.array([0.0, 0.3, 1.2, 2.5])
        await store.upsert(
            [{"id": f"a{i}"} for i in range(4)], np.stack([np.cos(angles), np.sin(angles)], 1)
        )
        hits = await store.query(np.array([1.0, 0.0]), 4, threshold=-1.0)
        np.testing.assert_allclose([h["score"] for h in hits], np.cos(angles), atol=1e-5)
        with pytest.raises(StorageError, match="zero vectors"):
            await store.upsert([{"id": "z"}], np.zeros((1, 2)))
        assert await store.query(np.zeros(2), 4, threshold=-1.0) == []
    finally:
        await vectors.close()


async def test_an_unreachable_node_raises_store_unavailable() -> None:
    settings = OpenSearchSettings(hosts=(f"http://{HOST}:1",), timeout=2, max_retries=0)
    vectors = open_vectors(settings, "w")
    try:
        with pytest.raises(
            StoreUnavailableError, match=rf"OpenSearch at http://{HOST}:1 is unreachable"
        ):
            await vectors("chunks", 2).count()
    finally:
        await vectors.close()
