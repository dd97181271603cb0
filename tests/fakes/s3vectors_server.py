"""A local Amazon S3 Vectors server: the documented REST-JSON API over real HTTP.

moto 5.2.5 implements buckets, indexes and put/get/list/delete of vectors but not
QueryVectors, so the vector adapter's queries need a server of their own. This one speaks
the wire protocol boto3's ``s3vectors`` client uses (``POST /<Operation>`` with a JSON body;
errors as ``x-amzn-ErrorType`` plus ``{"message"}`` with the model's HTTP status), and
enforces the service's documented limits (Amazon S3 User Guide, "Limitations and
restrictions" of S3 Vectors, and the API reference):

- names: vector bucket 3-63 of ``[a-z0-9-]``; index 3-63 of ``[a-z0-9.-]``; both start
  and end with a letter or digit; dimension 1..4096; ``float32``; ``cosine``/``euclidean``;
- PutVectors and DeleteVectors at most 500 vectors, GetVectors at most 100 keys, keys of
  1..1024 characters, QueryVectors ``topK`` 1..100, ListVectors pages of at most 1,000;
- request payload at most 20 MiB; metadata at most 40 KB per vector, at most 50 keys, the
  filterable part at most 2 KB; at most 10 non-filterable keys per index;
- cosine indexes refuse zero vectors; NaN and infinity are refused everywhere;
- a filter on a non-filterable key is a 400; filter operators ``$eq $ne $gt $gte $lt $lte
  $in $nin $exists $and $or`` and the implicit ``{"key": value}`` equality;
- cosine distance is ``1 - cos``, euclidean distance the L2 norm of the difference.

Search is exact (the service is approximate: an adapter must not depend on exactness
beyond what the contract suite checks). The server keeps request counters for the cost
model (:attr:`S3VectorsServer.counters`), and a test can make the next calls fail with
:meth:`S3VectorsServer.fail_next` (429 throttling, 503) to exercise retries.

Standalone: ``python -m tests.fakes.s3vectors_server --port 8333``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCOUNT = "123456789012"
MAX_PAYLOAD = 20 * 1024 * 1024
MAX_PUT, MAX_DELETE, MAX_GET, MAX_TOP_K, MAX_LIST = 500, 500, 100, 100, 1000
MAX_METADATA, MAX_FILTERABLE, MAX_METADATA_KEYS, MAX_NON_FILTERABLE = 40 * 1024, 2048, 50, 10
MAX_DIMENSION = 4096
PUT_MINIMUM_BILLED = 128 * 1024  # the price page bills each PutVectors as at least 128 KB
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_INDEX = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
STATUS = {"ValidationException": 400, "NotFoundException": 404, "ConflictException": 409,
          "TooManyRequestsException": 429, "ServiceUnavailableException": 503,
          "ServiceQuotaExceededException": 402, "InternalServerException": 500}


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


@dataclass
class Index:
    bucket: str
    name: str
    dimension: int
    metric: str
    non_filterable: list[str]
    created: float = field(default_factory=time.time)
    vectors: dict[str, tuple[list[float], dict[str, Any]]] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3vectors:us-east-1:{ACCOUNT}:bucket/{self.bucket}/index/{self.name}"


class Store:
    """Buckets and indexes in memory, guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, Index]] = {}

    def index(self, body: dict[str, Any]) -> Index:
        if "indexArn" in body:
            match = re.fullmatch(r"arn:aws[-a-z0-9]*:s3vectors:[a-z0-9-]+:\d{12}:bucket/(.+)/index/(.+)",
                                 str(body["indexArn"]))
            if not match:
                raise _invalid("Invalid indexArn")
            bucket, name = match.groups()
        else:
            bucket, name = body.get("vectorBucketName"), body.get("indexName")
            if not bucket or not name:
                raise _invalid("Must specify either indexArn or both vectorBucketName and indexName")
        if bucket not in self.buckets:
            raise ApiError("NotFoundException", "The specified vector bucket could not be found")
        if name not in self.buckets[bucket]:
            raise ApiError("NotFoundException", "The specified index could not be found")
        return self.buckets[bucket][name]


# -- validation helpers ------------------------------------------------------------


def _check_name(kind: str, value: Any, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not 3 <= len(value) <= 63:
        raise _invalid(f"1 validation error detected: {kind} must have length between 3 and 63")
    if not pattern.fullmatch(value):
        raise _invalid(f"Invalid {kind}: {value!r}")
    return value


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= 1024:
        raise _invalid("1 validation error detected: key must have length between 1 and 1024")
    return key


def _vector_data(index: Index, key: str, data: Any) -> list[float]:
    values = (data or {}).get("float32") if isinstance(data, dict) else None
    if not isinstance(values, list):
        raise _invalid(f"Invalid record for key '{key}': data must hold float32")
    if len(values) != index.dimension:
        raise _invalid(f"Invalid record for key '{key}': vector must have length "
                       f"{index.dimension}, but has length {len(values)}")
    floats = [float(v) for v in values]
    if not all(math.isfinite(v) for v in floats):
        raise _invalid(f"Invalid record for key '{key}': vector data must not contain NaN or Infinity")
    if index.metric == "cosine" and not any(floats):
        raise _invalid(f"Invalid record for key '{key}': zero vectors are not allowed for the "
                       "cosine distance metric")
    return floats


def _metadata_size(metadata: dict[str, Any]) -> int:
    return len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _check_metadata(index: Index, key: str, metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise _invalid(f"Invalid record for key '{key}': metadata must be an object")
    if len(metadata) > MAX_METADATA_KEYS:
        raise _invalid(f"Invalid record for key '{key}': more than {MAX_METADATA_KEYS} metadata keys")
    for name, value in metadata.items():
        scalar = isinstance(value, str | bool | int | float)
        if not scalar and not (isinstance(value, list) and all(isinstance(v, str | bool | int | float)
                                                              for v in value)):
            raise _invalid(f"Invalid record for key '{key}': metadata value of {name!r} "
                           "must be a string, number, boolean or list")
    if _metadata_size(metadata) > MAX_METADATA:
        raise _invalid(f"Invalid record for key '{key}': metadata exceeds {MAX_METADATA} bytes")
    filterable = {k: v for k, v in metadata.items() if k not in index.non_filterable}
    if _metadata_size(filterable) > MAX_FILTERABLE:
        raise _invalid(f"Invalid record for key '{key}': filterable metadata exceeds "
                       f"{MAX_FILTERABLE} bytes")
    return dict(metadata)


# -- filters -------------------------------------------------------------------------

_COMPARE = {
    "$eq": lambda v, x: x in v if isinstance(v, list) else v == x,
    "$ne": lambda v, x: x not in v if isinstance(v, list) else v != x,
    "$gt": lambda v, x: _number(v) and v > x,
    "$gte": lambda v, x: _number(v) and v >= x,
    "$lt": lambda v, x: _number(v) and v < x,
    "$lte": lambda v, x: _number(v) and v <= x,
    "$in": lambda v, x: any(i in x for i in v) if isinstance(v, list) else v in x,
    "$nin": lambda v, x: all(i not in x for i in v) if isinstance(v, list) else v not in x,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(index: Index, metadata: dict[str, Any], spec: Any) -> bool:
    if not isinstance(spec, dict) or not spec:
        raise _invalid("Invalid filter: expected a non-empty object")
    for name, condition in spec.items():
        if name in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                raise _invalid(f"Invalid filter: {name} needs a non-empty array")
            results = [_matches(index, metadata, part) for part in condition]
            if not (all(results) if name == "$and" else any(results)):
                return False
            continue
        if name.startswith("$"):
            raise _invalid(f"Invalid filter operator {name}")
        if name in index.non_filterable:
            raise _invalid(f"Invalid filter: metadata key {name!r} is not filterable")
        if not _field_matches(metadata, name, condition):
            return False
    return True


def _field_matches(metadata: dict[str, Any], name: str, condition: Any) -> bool:
    present = name in metadata
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    for operator, operand in condition.items():
        if operator == "$exists":
            if bool(operand) != present:
                return False
        elif operator in _COMPARE:
            if operator in ("$in", "$nin") and (not isinstance(operand, list) or not operand):
                raise _invalid(f"Invalid filter: {operator} needs a non-empty array")
            if operator in ("$ne", "$nin") and not present:
                continue
            if not present or not _COMPARE[operator](metadata[name], operand):
                return False
        else:
            raise _invalid(f"Invalid filter operator {operator}")
    return True


def _distance(metric: str, a: list[float], b: list[float]) -> float:
    if metric == "euclidean":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return 1.0 - dot / norms


# -- operations ----------------------------------------------------------------------


class Api:
    """One method per operation; each takes the JSON body and returns the JSON answer."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def CreateVectorBucket(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = _check_name("vectorBucketName", body.get("vectorBucketName"), _BUCKET)
        if name in self.store.buckets:
            raise ApiError("ConflictException", "A vector bucket with the specified name already exists")
        self.store.buckets[name] = {}
        return {"vectorBucketArn": f"arn:aws:s3vectors:us-east-1:{ACCOUNT}:bucket/{name}"}

    def DeleteVectorBucket(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        name = body.get("vectorBucketName")
        if name not in self.store.buckets:
            raise ApiError("NotFoundException", "The specified vector bucket could not be found")
        if self.store.buckets[name]:
            raise ApiError("ConflictException", "The specified vector bucket is not empty")
        del self.store.buckets[name]
        return {}

    def CreateIndex(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        bucket = body.get("vectorBucketName")
        name = _check_name("indexName", body.get("indexName"), _INDEX)
        dimension = body.get("dimension")
        if not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
            raise _invalid(f"dimension must be between 1 and {MAX_DIMENSION}")
        if body.get("dataType") != "float32":
            raise _invalid("dataType must be float32")
        if body.get("distanceMetric") not in ("cosine", "euclidean"):
            raise _invalid("distanceMetric must be cosine or euclidean")
        keys = (body.get("metadataConfiguration") or {}).get("nonFilterableMetadataKeys", [])
        if len(keys) > MAX_NON_FILTERABLE:
            raise _invalid(f"at most {MAX_NON_FILTERABLE} non-filterable metadata keys")
        if bucket not in self.store.buckets:
            raise ApiError("NotFoundException", "The specified vector bucket could not be found")
        if name in self.store.buckets[bucket]:
            raise ApiError("ConflictException", "An index with the specified name already exists")
        index = Index(bucket, name, dimension, body["distanceMetric"], list(keys))
        self.store.buckets[bucket][name] = index
        return {"indexArn": index.arn}

    def GetIndex(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        described: dict[str, Any] = {
            "vectorBucketName": index.bucket, "indexName": index.name, "indexArn": index.arn,
            "creationTime": index.created, "dataType": "float32", "dimension": index.dimension,
            "distanceMetric": index.metric,
        }
        if index.non_filterable:
            described["metadataConfiguration"] = {"nonFilterableMetadataKeys": index.non_filterable}
        return {"index": described}

    def DeleteIndex(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        del self.store.buckets[index.bucket][index.name]
        return {}

    def ListIndexes(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        bucket = body.get("vectorBucketName")
        if bucket not in self.store.buckets:
            raise ApiError("NotFoundException", "The specified vector bucket could not be found")
        prefix = body.get("prefix", "")
        return {"indexes": [{"vectorBucketName": bucket, "indexName": i.name, "indexArn": i.arn,
                             "creationTime": i.created}
                            for name, i in sorted(self.store.buckets[bucket].items())
                            if name.startswith(prefix)]}

    def PutVectors(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not 1 <= len(vectors) <= MAX_PUT:
            raise _invalid(f"vectors must hold between 1 and {MAX_PUT} items")
        checked = []
        for vector in vectors:
            key = _check_key(vector.get("key"))
            data = _vector_data(index, key, vector.get("data"))
            checked.append((key, data, _check_metadata(index, key, vector.get("metadata"))))
        for key, data, metadata in checked:  # all or nothing
            index.vectors[key] = (data, metadata)
        return {}

    def _keys(self, body: dict[str, Any], limit: int) -> list[str]:
        keys = body.get("keys")
        if not isinstance(keys, list) or not 1 <= len(keys) <= limit:
            raise _invalid(f"keys must hold between 1 and {limit} items")
        return [_check_key(key) for key in keys]

    def GetVectors(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        keys = self._keys(body, MAX_GET)
        return {"vectors": [_output(key, index.vectors[key], body) for key in dict.fromkeys(keys)
                            if key in index.vectors]}

    def DeleteVectors(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        for key in self._keys(body, MAX_DELETE):
            index.vectors.pop(key, None)
        return {}

    def ListVectors(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        size = body.get("maxResults", MAX_LIST)
        if not isinstance(size, int) or not 1 <= size <= MAX_LIST:
            raise _invalid(f"maxResults must be between 1 and {MAX_LIST}")
        keys = sorted(index.vectors)
        start = 0
        if body.get("nextToken"):
            token = str(body["nextToken"])
            start = next((i for i, key in enumerate(keys) if key > token), len(keys))
        page = keys[start : start + size]
        answer: dict[str, Any] = {"vectors": [_output(key, index.vectors[key], body) for key in page]}
        if start + size < len(keys):
            answer["nextToken"] = page[-1]
        return answer

    def QueryVectors(self, body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        index = self.store.index(body)
        top_k = body.get("topK")
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise _invalid(f"topK must be between 1 and {MAX_TOP_K}")
        query = (body.get("queryVector") or {}).get("float32")
        if not isinstance(query, list) or len(query) != index.dimension:
            raise _invalid(f"queryVector must have length {index.dimension}")
        query = [float(v) for v in query]
        if not all(math.isfinite(v) for v in query):
            raise _invalid("queryVector must not contain NaN or Infinity")
        if index.metric == "cosine" and not any(query):
            raise _invalid("zero query vectors are not allowed for the cosine distance metric")
        spec = body.get("filter")
        scored = []
        for key, (data, metadata) in index.vectors.items():
            if spec is not None and not _matches(index, metadata, spec):
                continue
            scored.append((_distance(index.metric, query, data), key))
        scored.sort()
        vectors = []
        for distance, key in scored[:top_k]:
            hit: dict[str, Any] = {"key": key}
            if body.get("returnDistance"):
                hit["distance"] = distance
            if body.get("returnMetadata"):
                hit["metadata"] = index.vectors[key][1]
            vectors.append(hit)
        return {"vectors": vectors, "distanceMetric": index.metric}


def _output(key: str, stored: tuple[list[float], dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key}
    if body.get("returnData"):
        out["data"] = {"float32": stored[0]}
    if body.get("returnMetadata"):
        out["metadata"] = stored[1]
    return out


# -- the HTTP server -----------------------------------------------------------------


class S3VectorsServer:
    """The server on 127.0.0.1 (``port=0``: an ephemeral one), in a background thread.

    ``counters`` counts, per operation, requests (``requests:<Op>``), and the billable
    quantities: vectors put (``vectors_put``), bytes put (``put_bytes``: vector data at
    4 bytes a dimension, the key and the metadata's JSON, as the price page bills logical
    bytes; ``put_billed_bytes`` with each request's 128 KB minimum), queries (``queries``)
    and the bytes those queries processed (``query_scanned_bytes``: the queried index's
    vectors, keys and filterable metadata). :meth:`stored_bytes` is the logical storage.
    """

    def __init__(self, port: int = 0) -> None:
        self.store = Store()
        self.api = Api(self.store)
        self.counters: Counter[str] = Counter()
        self._faults: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stored_bytes(self) -> int:
        """Logical bytes stored over every index (vector data, keys, all metadata)."""
        with self.store.lock:
            return sum(4 * index.dimension + len(key.encode("utf-8")) + _metadata_size(meta)
                       for indexes in self.store.buckets.values() for index in indexes.values()
                       for key, (_, meta) in index.vectors.items())

    def fail_next(self, count: int, code: str = "TooManyRequestsException") -> None:
        """Answer the next ``count`` requests with the error ``code`` (429, 503, ...)."""
        with self.store.lock:
            self._faults.extend([code] * count)

    def start(self) -> S3VectorsServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3vectors",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> S3VectorsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        """Run one operation: (HTTP status, JSON answer, error code or None)."""
        method = getattr(self.api, operation, None)
        if method is None or operation.startswith("_"):
            return 404, {"message": f"Unknown operation {operation}"}, "NotFoundException"
        with self.store.lock:
            self.counters[f"requests:{operation}"] += 1
            if self._faults:
                code = self._faults.pop(0)
                return STATUS[code], {"message": f"injected {code}"}, code
            try:
                answer = method(body)
            except ApiError as exc:
                return STATUS[exc.code], {"message": str(exc)}, exc.code
            self._count(operation, body)
        return 200, answer, None

    def _count(self, operation: str, body: dict[str, Any]) -> None:
        if operation == "PutVectors":
            self.counters["vectors_put"] += len(body["vectors"])
            size = sum(4 * len(v["data"]["float32"]) + len(v["key"].encode("utf-8"))
                       + _metadata_size(v.get("metadata") or {}) for v in body["vectors"])
            self.counters["put_bytes"] += size
            self.counters["put_billed_bytes"] += max(size, PUT_MINIMUM_BILLED)
        elif operation == "QueryVectors":
            index = self.store.index(body)
            self.counters["queries"] += 1
            self.counters["query_scanned_bytes"] += sum(
                4 * index.dimension + len(key.encode("utf-8")) + _metadata_size(
                    {k: v for k, v in meta.items() if k not in index.non_filterable})
                for key, (_, meta) in index.vectors.items())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD:
                    self.rfile.read(length)
                    self._answer(413, {"message": "Request payload exceeds 20 MiB"},
                                 "ValidationException")
                    return
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._answer(400, {"message": "Malformed JSON"}, "ValidationException")
                    return
                status, answer, code = server.call(self.path.strip("/").split("?")[0], body)
                self._answer(status, answer, code)

            def _answer(self, status: int, answer: dict[str, Any], code: str | None) -> None:
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if code is not None:
                    self.send_header("x-amzn-ErrorType", code)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8333)
    args = parser.parse_args(argv)
    server = S3VectorsServer(args.port)
    print(f"S3 Vectors on {server.url}", flush=True)  # noqa: T201
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
