"""Neptune graph adapter: one guard per Neptune rule (shared reference local-aws.md).

The contract suite (``LAMBDARAG_CONTRACT_BACKENDS=neptune``) checks behaviour; these tests
check *how* the adapter talks to Neptune, which TinkerGraph would let slip: the bytecode
it sends (recorded on the local Gremlin Server), its retries and its SigV4 signing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.process.traversal import Bytecode, Cardinality, P, T

from lambdarag.storage.base import StorageError, StoreUnavailableError
from lambdarag.storage.neptune import (
    GremlinRunner,
    NeptuneConfig,
    NeptuneGraphStorage,
    sigv4_headers,
)
from lambdarag.storage.neptune import connection as connection_module
from lambdarag.storage.neptune.graph import (
    EDGE_LABEL,
    VERTEX_LABEL,
    decode_props,
    edge_id,
    encode_props,
    vertex_id,
)
from tests.aws.conftest import LocalAws, require_service

HOSTILE = ["a|n|b", "<|#|>", "a<SEP>b", "x::y", "O'Brien", 'say "hi"', "東京", "🚀", "", " "]
VERTEX_WRITE_STEPS = {"mergeV", "addV"}


def _neptune_from_env(environ: dict[str, str]) -> NeptuneConfig:
    """The adapter's config as config.py parses it from ``environ``."""
    from lambdarag.config import NeptuneEnv

    config: NeptuneConfig = NeptuneEnv.from_mapping(environ).adapter()
    return config


class RecordingConnection(DriverRemoteConnection):
    """A real connection that keeps the bytecode of every traversal it submits."""

    sent: list[Bytecode]

    def submit(self, bytecode: Bytecode) -> Any:
        self.sent.append(bytecode)
        return super().submit(bytecode)


@pytest.fixture
async def recorded(
    local_aws: LocalAws, unique_name: str
) -> AsyncIterator[tuple[NeptuneGraphStorage, list[Bytecode]]]:
    """A store on the local server whose every traversal is recorded, exercised fully."""
    require_service("gremlin", local_aws.gremlin_port)
    sent: list[Bytecode] = []

    def factory(config: NeptuneConfig) -> RecordingConnection:
        conn = RecordingConnection(config.url, config.traversal_source)
        conn.sent = sent
        return conn

    runner = GremlinRunner(NeptuneConfig(url=local_aws.gremlin_url, batch_size=3), factory)
    graph = NeptuneGraphStorage(runner, unique_name)
    try:
        await _exercise(graph)
        yield graph, sent
    finally:
        await graph.drop()
        await runner.close()


async def _exercise(graph: NeptuneGraphStorage) -> None:
    names = [*HOSTILE, "hub"]
    await graph.upsert_nodes(
        {name: {"entity_id": name, "tags": ["a"], "n": None} for name in names}
    )
    await graph.upsert_nodes({"hub": {"description": "again", "_private": 1}})
    await graph.upsert_edges({(name, "hub"): {"weight": 1.0, "kw": {"k": 1}} for name in HOSTILE})
    await graph.upsert_edges({("hub", "hub"): {"weight": 2.0}})
    assert (await graph.node_degrees(["hub"]))["hub"] == len(HOSTILE) + 1
    await graph.get_nodes(names)
    await graph.get_edges([("hub", name) for name in HOSTILE])
    await graph.node_edges(["hub"])
    await graph.popular_labels(3)
    await graph.search_labels("b", 5)
    await graph.subgraph("hub", 2, 4)
    await graph.subgraph("*", 2, 4)
    await graph.counts()
    await graph.delete_edges([("hub", HOSTILE[0])])
    await graph.delete_nodes([HOSTILE[1], "missing"])


def _walk(value: Any) -> Iterator[Any]:
    """Every value inside a bytecode, depth first (child traversals included)."""
    yield value
    if isinstance(value, Bytecode):
        for _, *args in value.source_instructions + value.step_instructions:
            for arg in args:
                yield from _walk(arg)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(key)
            yield from _walk(item)
    elif isinstance(value, list | set | tuple):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, P):
        yield from _walk(value.value)
        if value.other is not None:
            yield from _walk(value.other)


def _steps(bytecode: Bytecode) -> Iterator[list[Any]]:
    """Every step instruction, also those of child traversals."""
    for value in _walk(bytecode):
        if isinstance(value, Bytecode):
            yield from value.step_instructions


# ---------------------------------------------------------------------- ids


async def test_rule_ids_are_deterministic_strings(recorded: Any) -> None:
    _, sent = recorded
    for bytecode in sent:
        for name, *args in _steps(bytecode):
            if name in ("V", "E"):
                assert all(isinstance(arg, str) for arg in args), (name, args)
        for value in _walk(bytecode):
            if isinstance(value, dict) and T.id in value:
                assert isinstance(value[T.id], str)


def test_rule_ids_are_injective_for_hostile_names() -> None:
    ids = {vertex_id(ws, name) for ws in ("", "a", "a|n") for name in HOSTILE}
    assert len(ids) == 3 * len(HOSTILE)
    assert vertex_id("w", "x") == vertex_id("w", "x")
    assert edge_id("w", "a", "b") == edge_id("w", "b", "a") != edge_id("w", "a|b", "")
    assert edge_id("w", "a", "b") != vertex_id("w", "a")


# -------------------------------------------------------------- cardinality


async def test_rule_every_vertex_property_write_is_single(recorded: Any) -> None:
    _, sent = recorded
    property_steps = merge_v_options = 0
    for bytecode in sent:
        steps = list(_steps(bytecode))
        for name, *args in steps:
            if name == "property":
                property_steps += 1
                assert args[0] is Cardinality.single, args
        vertex_writes = [step for step in bytecode.step_instructions if step[0] == "mergeV"]
        if not vertex_writes:
            continue
        for name, *args in bytecode.step_instructions:
            if name == "option":
                merge_v_options += 1
                values = [v for k, v in args[1].items() if k not in (T.label, T.id)]
                for value in values:
                    assert isinstance(value, Bytecode), value
                    (source,) = value.source_instructions
                    assert source[:2] == ["CardinalityValueTraversal", Cardinality.single]
    assert property_steps > 0
    assert merge_v_options > 0


# ------------------------------------------------------------------- values


def test_rule_values_are_scalars_without_null() -> None:
    props = {"l": [1, "x"], "d": {"k": [1]}, "none": None, "s": "[1]", "b": True, "_p": 2.5}
    stored = encode_props(props)
    assert all(isinstance(v, str | int | float | bool) for v in stored.values())
    assert "none" not in stored and "__p" in stored
    assert decode_props(stored) == {k: v for k, v in props.items() if v is not None}


async def test_rule_values_sent_are_scalars(recorded: Any) -> None:
    _, sent = recorded
    for bytecode in sent:
        for name, *args in _steps(bytecode):
            if name in ("mergeV", "mergeE", "option"):
                for value in _walk(args):
                    assert value is not None


# ------------------------------------------------------------------- labels


async def test_rule_labels_have_no_double_colon(recorded: Any) -> None:
    graph, sent = recorded
    assert "::" not in VERTEX_LABEL + EDGE_LABEL
    labels = [
        value[T.label]
        for bytecode in sent
        for value in _walk(bytecode)
        if isinstance(value, dict) and T.label in value
    ]
    assert set(labels) == {VERTEX_LABEL, EDGE_LABEL}
    assert "x::y" in await graph.all_labels()  # names with :: are data, never labels


# ------------------------------------------------------------------ lambdas


async def test_rule_bytecode_only_no_lambdas(recorded: Any) -> None:
    _, sent = recorded
    assert sent
    for bytecode in sent:
        assert isinstance(bytecode, Bytecode)
        for value in _walk(bytecode):
            assert not callable(value) or isinstance(value, type), value


# ------------------------------------------------------------- transactions


def _cme() -> GremlinServerError:
    return GremlinServerError(
        {
            "code": 500,
            "message": '{"code":"ConcurrentModificationException","detailedMessage":"conflict"}',
            "attributes": {},
        }
    )


def _runner(max_retries: int = 3) -> GremlinRunner:
    config = NeptuneConfig(
        url="ws://fake:8182/gremlin", max_retries=max_retries, backoff_base=0.001
    )
    return GremlinRunner(config, connection_factory=lambda _config: object())


async def test_rule_concurrent_modification_is_retried() -> None:
    attempts: list[int] = []

    def call(_g: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _cme()
        return "ok"

    assert await _runner().run(call) == "ok"
    assert len(attempts) == 3


async def test_retries_give_up_and_other_errors_fail_at_once() -> None:
    calls: list[int] = []

    def always_cme(_g: Any) -> None:
        calls.append(1)
        raise _cme()

    with pytest.raises(StorageError, match="ConcurrentModification"):
        await _runner(max_retries=2).run(always_cme)
    assert len(calls) == 3

    def bad(_g: Any) -> None:
        calls.append(1)
        raise GremlinServerError({"code": 597, "message": "bad step", "attributes": {}})

    calls.clear()
    with pytest.raises(StorageError, match="bad step"):
        await _runner().run(bad)
    assert len(calls) == 1


async def test_rule_one_batch_is_one_traversal(recorded: Any) -> None:
    _, sent = recorded
    # 11 nodes in batches of 3, then one node: 4 + 1 node traversals
    merge_v = [b for b in sent if any(s[0] == "mergeV" for s in b.step_instructions)]
    assert [sum(s[0] == "mergeV" for s in b.step_instructions) for b in merge_v] == [3, 3, 3, 2, 1]


async def test_unreachable_endpoint_names_it() -> None:
    runner = GremlinRunner(NeptuneConfig(url="ws://127.0.0.1:9/gremlin", max_retries=0))
    with pytest.raises(StoreUnavailableError, match="127.0.0.1:9"):
        await runner.run(lambda g: g.V().count().next())


# -------------------------------------------------------------------- order


async def test_rule_no_limit_without_order(recorded: Any) -> None:
    _, sent = recorded
    limited = 0
    for bytecode in sent:
        names = [step[0] for step in bytecode.step_instructions]
        if "limit" in names and "drop" not in [step[0] for step in _steps(bytecode)]:
            limited += 1
            assert "order" in names[: names.index("limit")], names
    assert limited > 0


# --------------------------------------------------------------------- auth


def test_rule_sigv4_signs_the_websocket_upgrade() -> None:
    from botocore.credentials import Credentials

    headers = sigv4_headers(
        "wss://db.cluster-x.us-east-1.neptune.amazonaws.com:8182/gremlin",
        "us-east-1",
        Credentials("AKIDEXAMPLE", "secret", "token"),
    )
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/neptune-db/aws4_request" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "token"
    assert "X-Amz-Date" in headers


def test_connect_passes_signed_headers_when_iam_auth_is_on(monkeypatch: Any) -> None:
    from botocore.credentials import Credentials

    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        connection_module,
        "sigv4_headers",
        lambda url, region: sigv4_headers(url, region, Credentials("AK", "SK")),
    )
    monkeypatch.setattr(
        "gremlin_python.driver.driver_remote_connection.DriverRemoteConnection",
        lambda url, source, **kwargs: seen.update(url=url, **kwargs) or "conn",
    )
    config = NeptuneConfig(url="wss://db.example:8182/gremlin", iam_auth=True, region="eu-west-1")
    assert connection_module.connect(config) == "conn"
    assert "eu-west-1/neptune-db" in seen["headers"]["Authorization"]


def test_config_reads_lightrag_gremlin_names() -> None:
    config = _neptune_from_env(
        {"GREMLIN_HOST": "h", "GREMLIN_PORT": "1", "GREMLIN_TRAVERSE_SOURCE": "s",
         "NEPTUNE_IAM_AUTH": "true", "AWS_REGION": "r"}
    )  # fmt: skip
    assert (config.url, config.traversal_source, config.iam_auth, config.region) == (
        "ws://h:1/gremlin", "s", True, "r",
    )  # fmt: skip
    assert _neptune_from_env({"GREMLIN_URL": "wss://x/gremlin"}).url == "wss://x/gremlin"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Connection:
    def __init__(self, opened: list[_Connection]) -> None:
        self.closed = False
        opened.append(self)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("iam_auth", [True, False])
async def test_rule_signed_connections_are_replaced_before_the_signature_expires(
    iam_auth: bool,
) -> None:
    # GIVEN a runner whose connections carry (with IAM auth) a 5-minute SigV4 signature
    opened: list[_Connection] = []
    clock = _Clock()
    config = NeptuneConfig(url="wss://db.example:8182/gremlin", iam_auth=iam_auth,
                           region="eu-west-1")
    runner = GremlinRunner(config, lambda _config: _Connection(opened), clock=clock)
    first = runner._remote()
    # WHEN four minutes pass
    clock.now += 240
    second = runner._remote()
    # THEN with IAM auth a freshly signed connection replaces it, the old one stays open for
    # traversals still running on it and is closed after the grace period; without IAM
    # auth the connection is kept
    if not iam_auth:
        assert second is first and len(opened) == 1
        return
    assert second is not first and len(opened) == 2
    assert not opened[0].closed
    clock.now += 61
    assert runner._remote() is second
    assert opened[0].closed and not opened[1].closed
    await runner.close()
    assert opened[1].closed
