"""What a cold API Lambda loads: the handler and its app, without the engine's heavy parts.

numpy, PyJWT (with its crypto backends), json-repair and the AWS clients cost tens of
milliseconds each at import; the first request that needs them loads them. Timings are in
bench/bench_lambda.py; this checks which modules the init phase pulls in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFERRED = ("numpy", "jwt", "json_repair", "boto3", "botocore", "opensearchpy",
            "gremlin_python", "tiktoken", "bcrypt")


AWS = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t",
       "LIGHTRAG_KV_STORAGE": "DynamoDBKVStorage",
       "LIGHTRAG_DOC_STATUS_STORAGE": "DynamoDBDocStatusStorage"}
TIERS = {
    "embedded": {},
    "managed": {**AWS, "LIGHTRAG_VECTOR_STORAGE": "OpenSearchVectorDBStorage",
                "LIGHTRAG_GRAPH_STORAGE": "NeptuneGraphStorage"},
    "lowcost": {**AWS, "LIGHTRAG_VECTOR_STORAGE": "S3VectorsStorage",
                "LIGHTRAG_GRAPH_STORAGE": "DynamoDBGraphStorage",
                "LAMBDARAG_S3VECTORS_BUCKET": "lambdarag-vectors"},
}


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_the_api_handler_init_defers_the_heavy_modules(tier: str) -> None:
    # The deployed handler selects its stores at init: every storage tier stays as light.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIGHTRAG_", "AWS_"))}
    code = ("import json, sys; sys.path.insert(0, 'functions/api'); import handler; "
            f"print(json.dumps(sorted(m for m in {DEFERRED!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={**env, **TIERS[tier]})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
