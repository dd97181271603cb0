"""Count what AWS would bill: requests per service and operation, DynamoDB capacity units.

:class:`AwsMeter` hooks botocore's event system: every DynamoDB request it sees is sent with
``ReturnConsumedCapacity=TOTAL`` and the capacity each answer reports (DynamoDB Local
computes it like the service: 1 write unit per KB written, 1 read unit per 4 KB read
strongly consistent, half that eventually consistent) is added up per table as read or
write request units; every other call is counted per service and operation. Install it
on a client, or on boto3's default session before the code under test makes its clients
(clients copy their session's handlers when they are created)::

    with AwsMeter().installed() as meter:
        ...  # anything that calls boto3.client(...)
    meter.dynamodb_units()  # {"reads": ..., "writes": ...}
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CAPACITY_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                       "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class AwsMeter:
    """Request and capacity counters, safe to update from many threads."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()  # "<service>:<Operation>"
        self.capacity: Counter[str] = Counter()  # "reads:<table>", "writes:<table>"
        self._lock = threading.Lock()

    def register(self, events: Any) -> None:
        """Attach to a botocore event emitter (a client's ``meta.events`` or a session's)."""
        events.register("provide-client-params.dynamodb.*", self._ask_capacity)
        events.register("after-call.*.*", self._count)

    def unregister(self, events: Any) -> None:
        events.unregister("provide-client-params.dynamodb.*", self._ask_capacity)
        events.unregister("after-call.*.*", self._count)

    @contextmanager
    def installed(self) -> Iterator[AwsMeter]:
        """On boto3's default session for the duration (clients made meanwhile are metered)."""
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION._session  # type: ignore[union-attr]
        self.register(session)
        try:
            yield self
        finally:
            self.unregister(session)

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.endpoint_prefix
        with self._lock:
            self.requests[f"{service}:{model.name}"] += 1
            if service != "dynamodb":
                return
            consumed = parsed.get("ConsumedCapacity") or []
            kind = "writes" if model.name in WRITE_OPERATIONS else "reads"
            for entry in consumed if isinstance(consumed, list) else [consumed]:
                self.capacity[f"{kind}:{entry.get('TableName', '?')}"] += float(
                    entry.get("CapacityUnits", 0.0))

    def dynamodb_units(self) -> dict[str, float]:
        """Read and write request units over every table."""
        with self._lock:
            return {kind: sum(v for k, v in self.capacity.items() if k.startswith(f"{kind}:"))
                    for kind in ("reads", "writes")}

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self._lock:
            return Counter(self.requests), Counter(self.capacity)
