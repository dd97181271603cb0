"""Readiness probes for ``scripts/services``: does a local stand-in answer its real protocol?

Usage: ``probe.py SERVICE PORT [--wait SECONDS] [--pid PID]``, run with the project's
virtualenv (boto3 and gremlinpython come from the ``aws`` extra). Exits 0 when the service
is ready, 1 otherwise, with the last reason as one line on stderr. ``--wait`` retries until
the deadline; ``--pid`` gives up at once when that process has exited.

Checks (shared reference local-aws.md):
- dynamodb: ``ListTables`` through boto3 succeeds;
- gremlin: ``g.inject(1).next() == 1`` through gremlinpython, as a Neptune client would send it;
- opensearch: cluster health is yellow or green and ``_cat/plugins`` lists the k-NN plugin.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Callable

HOST = "127.0.0.1"


def check_dynamodb(port: int) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://{HOST}:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )
    client.list_tables(Limit=1)


def check_gremlin(port: int) -> None:
    from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
    from gremlin_python.process.anonymous_traversal import traversal

    connection = DriverRemoteConnection(f"ws://{HOST}:{port}/gremlin", "g")
    try:
        value = traversal().with_remote(connection).inject(1).next()
    finally:
        connection.close()
    if value != 1:
        raise RuntimeError(f"inject(1) returned {value!r}")


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as response:
        return response.read().decode()


def check_opensearch(port: int) -> None:
    status = json.loads(_get(port, "/_cluster/health"))["status"]
    if status not in ("yellow", "green"):
        raise RuntimeError(f"cluster health is {status}")
    components = _get(port, "/_cat/plugins?h=component").lower()
    if "knn" not in components:
        raise RuntimeError("the k-NN plugin is not loaded (_cat/plugins)")


CHECKS: dict[str, Callable[[int], None]] = {
    "dynamodb": check_dynamodb,
    "gremlin": check_gremlin,
    "opensearch": check_opensearch,
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=sorted(CHECKS))
    parser.add_argument("port", type=int)
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to keep trying")
    parser.add_argument("--pid", type=int, help="give up when this process exits")
    args = parser.parse_args()

    # gremlinpython leaves an aiohttp session behind after a refused connection, and asyncio
    # reports it at exit: keep stderr for the one line that says why the probe failed.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    check = CHECKS[args.service]
    deadline = time.monotonic() + args.wait
    while True:
        try:
            check(args.port)
            return 0
        except Exception as exc:  # any failure means "not ready yet"
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if args.pid is not None and not _alive(args.pid):
            sys.stderr.write(f"the server process {args.pid} exited\n")
            return 1
        if time.monotonic() >= deadline:
            waited = f" after {args.wait:g} s" if args.wait else ""
            sys.stderr.write(f"not ready on port {args.port}{waited} ({reason})\n")
            return 1
        time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
